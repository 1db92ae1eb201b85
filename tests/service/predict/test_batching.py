"""Micro-batching: concurrent single rows for a tree model share one call and answer as if alone."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import numpy as np
import pytest

from tabserve.errors import InputError
from tabserve.inputs import Batch
from tabserve.predictor import Prediction
from tabserve.service.app import create_app, with_fast_predict
from tabserve.service.predict.batching import MicroBatcher
from tabserve.workflow import train_and_register
from tests.support.prediction_ids import masked
from tests.support.settings import make_settings

FOREST = {"estimator": "sklearn.ensemble.RandomForestClassifier", "grid": {"n_estimators": [20]}}
NAMES = "sepal_length,sepal_width,petal_length,petal_width"
JSON = {"content-type": "application/json"}
CSV = {"content-type": "text/csv"}
# (path, body, headers): single rows of every kind, one invalid, one with a column the model ignores.
REQUESTS = [
    ("/predict", b"[5.1, 3.8, 1.5, 0.3]", JSON),
    ("/predict", b"[6.9, 3.1, 5.4, 2.1]", JSON),
    ("/predict", b'{"instances": [[5.9, 3.0, 4.2, 1.5]]}', JSON),
    ("/predict", b'[5.1, "tall", 1.5, 0.3]', JSON),  # invalid: its own 422
    ("/predict?labels_only=true", b"[6.3, 2.5, 5.0, 1.9]", JSON),
    ("/predict", b'{"instances": [[4.9, 3.0, 1.4, 0.2]], "labels_only": true}', JSON),
    ("/predict", f"{NAMES}\n6.0,2.2,5.0,1.5\n".encode(), CSV),
    ("/predict", f"{NAMES},note\n5.0,3.3,1.4,0.2,x\n".encode(), CSV),  # ignored column, named in headers
    (
        "/models/iris/predict",
        b'{"columns": ["petal_width", "sepal_length", "sepal_width", '
        b'"petal_length"], "data": [[1.3, 5.7, 2.8, 4.1]]}',
        JSON,
    ),
    ("/predict", b"[7.7, 2.6, 6.9, 2.3]", JSON),
    ("/predict", b"[null, 3.0, 4.2, 1.5]", JSON),  # missing value, imputed
    ("/predict", b"[5.1, 3.8]", JSON),  # invalid: too few values
]


@pytest.fixture(scope="module")
def forest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A registry holding a RandomForest iris model (served by ONNX Runtime, no Python row path)."""
    root = tmp_path_factory.mktemp("forest")
    train_and_register(make_settings(root, candidates=[FOREST]))
    return root


def _app(root: Path, **server: object):
    return with_fast_predict(create_app(make_settings(root, server=server)))


async def _exchange(app, calls):
    fastapi_app = app
    while not hasattr(fastapi_app, "router"):
        fastapi_app = fastapi_app.app
    async with fastapi_app.router.lifespan_context(fastapi_app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:5000") as client:
            for _ in range(300):
                if (await client.get("/readyz")).status_code == 200:
                    break
                await asyncio.sleep(0.05)
            return await calls(client, fastapi_app)


def _answers(responses) -> list[tuple]:
    """Status, body and headers, with the prediction ids (new on every call by design, and not all of
    one length) masked."""
    return [
        (
            r.status_code,
            masked(r.content),
            sorted((k, masked(v.encode())) for k, v in r.headers.items() if k != "content-length"),
        )
        for r in responses
    ]


def _predictions(metrics: str) -> list[str]:
    return sorted(line for line in metrics.splitlines() if line.startswith("tabserve_predictions_total"))


def test_concurrent_rows_share_calls_and_answer_byte_for_byte_as_unbatched(forest):
    async def concurrent(client, fastapi_app):
        batcher = fastapi_app.state.predict_core.batcher
        assert batcher is not None
        before = (batcher.calls, batcher.rows)
        rounds = []
        for _ in range(3):
            rounds.append(
                await asyncio.gather(*(client.post(p, content=b, headers=h) for p, b, h in REQUESTS))
            )
        joined = (batcher.calls - before[0], batcher.rows - before[1])
        return rounds, joined, (await client.get("/metrics")).text

    async def one_by_one(client, fastapi_app):
        assert fastapi_app.state.predict_core.batcher is None
        rounds = []
        for _ in range(3):
            rounds.append([await client.post(p, content=b, headers=h) for p, b, h in REQUESTS])
        return rounds, (await client.get("/metrics")).text

    batched, (calls, rows), batched_metrics = asyncio.run(
        _exchange(_app(forest, micro_batching=True), concurrent)
    )
    alone, alone_metrics = asyncio.run(_exchange(_app(forest, micro_batching=False), one_by_one))
    assert rows == 3 * (len(REQUESTS) - 2)  # every valid row went through the batcher
    assert calls < rows  # and some calls scored several rows
    for got, expected in zip(batched, alone, strict=True):
        assert _answers(got) == _answers(expected)
    statuses = [r.status_code for r in alone[0]]
    assert statuses.count(422) == 2 and statuses.count(200) == len(REQUESTS) - 2
    assert "probabilities" not in alone[0][4].json() and "probabilities" not in alone[0][5].json()
    assert alone[0][7].headers["x-tabserve-ignored-columns"] == "note"
    assert _predictions(batched_metrics) == _predictions(alone_metrics)
    assert _predictions(alone_metrics)  # the comparison above compares something


class _Model:
    """A stand-in predictor: class 0 or 1 by the sign of the first value; NaN first values fail."""

    row_width = None
    row_joinable = False
    is_regression = False
    probabilities = True
    classes = ["neg", "pos"]

    def __init__(self) -> None:
        self.calls: list[int] = []

    def predict(self, batch: Batch, labels_only: bool = False) -> Prediction:
        self.calls.append(batch.rows)
        first = batch.matrix[:, 0]
        if np.isnan(first).any():
            raise InputError(f"row {int(np.flatnonzero(np.isnan(first))[0])}: cannot score")
        positive = (first > 0).astype(np.float64)
        probabilities = np.column_stack([1 - positive, positive])
        indices = positive.astype(int)
        labels = [self.classes[i] for i in indices]
        return Prediction(labels, None if labels_only else probabilities, self.classes, indices)


async def _concurrent_turn(batcher: MicroBatcher, model: _Model) -> None:
    """Two rows ready in one turn of the loop: the batcher joins rows from then on."""
    await asyncio.gather(batcher.predict(model, [1.0]), batcher.predict(model, [2.0]))
    await asyncio.sleep(0)
    model.calls.clear()


def test_rows_are_scored_at_once_until_several_arrive_in_one_turn_of_the_loop():
    model = _Model()
    batcher = MicroBatcher(wait_s=0.0, max_rows=64)

    async def run():
        alone = []
        for _ in range(3):  # one row per turn of the loop: never joined
            alone.append(await batcher.predict(model, [1.0]))
            await asyncio.sleep(0)
        first = list(model.calls)
        await asyncio.gather(*(batcher.predict(model, [float(i)]) for i in range(3)))  # scored at once,
        second = list(model.calls)[len(first) :]  # but seen together
        await asyncio.sleep(0)
        together = await asyncio.gather(*(batcher.predict(model, [float(i)]) for i in range(3)))
        third = list(model.calls)[len(first) + len(second) :]
        await batcher.predict(model, [1.0])  # a group of one: back to scoring at once
        await asyncio.sleep(0)
        await batcher.predict(model, [1.0])
        return alone, first, second, third, together, model.calls[-2:]

    alone, first, second, third, together, last = asyncio.run(run())
    assert alone == [[0.0, 1.0]] * 3 and first == [1, 1, 1]
    assert second == [1, 1, 1] and third == [3] and together == [[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]]
    assert last == [1, 1]


def test_a_failing_joined_call_scores_each_row_alone_with_its_own_error():
    model = _Model()
    batcher = MicroBatcher(wait_s=0.0, max_rows=64)
    rows = [[1.0], [-2.0], [float("nan")], [3.0]]

    async def run():
        await _concurrent_turn(batcher, model)
        calls = [batcher.predict(model, row) for row in rows]
        return await asyncio.gather(*calls, return_exceptions=True)

    got = asyncio.run(run())
    assert model.calls == [4, 1, 1, 1, 1]  # the joined call failed; then each row alone
    assert [g for g in got if not isinstance(g, Exception)] == [[0.0, 1.0], [1.0, 0.0], [0.0, 1.0]]
    assert isinstance(got[2], InputError) and str(got[2]) == "row 0: cannot score"  # as if alone


def test_rows_join_per_version_up_to_the_row_cap():
    model, other = _Model(), _Model()
    batcher = MicroBatcher(wait_s=0.0, max_rows=3)

    async def run():
        await _concurrent_turn(batcher, model)
        before = (batcher.calls, batcher.rows)
        calls = [batcher.predict(model, [float(i)]) for i in range(8)]
        calls.append(batcher.predict(other, [-1.0]))
        return before, await asyncio.gather(*calls)

    before, got = asyncio.run(run())
    assert sorted(model.calls) == [2, 3, 3] and other.calls == [1]  # cut at three; versions apart
    assert got == [[1.0, 0.0]] + [[0.0, 1.0]] * 7 + [[1.0, 0.0]]
    assert (batcher.calls - before[0], batcher.rows - before[1]) == (4, 9)


def test_a_lone_row_waits_for_no_one_and_batch_wait_gathers_later_rows():
    model = _Model()

    async def staggered(batcher: MicroBatcher):
        first = asyncio.ensure_future(batcher.predict(model, [1.0]))
        await asyncio.sleep(0)  # the first row's call is due before this row joins, unless it waits
        await asyncio.sleep(0)
        second = await batcher.predict(model, [2.0])
        return await first, second

    asyncio.run(staggered(MicroBatcher(wait_s=0.0, max_rows=64)))
    assert model.calls == [1, 1]
    model.calls.clear()
    asyncio.run(staggered(MicroBatcher(wait_s=0.05, max_rows=64)))
    assert model.calls == [2]


def test_linear_models_and_a_switched_off_server_do_not_batch(tmp_path):
    on = create_app(make_settings(tmp_path)).state.predict_core
    off = create_app(make_settings(tmp_path, server={"micro_batching": False})).state.predict_core
    assert off.batcher is None and on.batcher is not None

    def kind(**fields):
        base = {"row_width": None, "row_joinable": False, "is_regression": False, "probabilities": True}
        return type("Model", (), {**base, **fields})()

    one_row = Batch(1, np.zeros((1, 4)), None)
    assert not on.batcher.takes(kind(row_width=4), one_row)  # a linear model's row is pure Python
    tree = kind(row_width=4, row_joinable=True)  # a tree model's row is a model call
    assert on.batcher.takes(tree, one_row) and on.batcher.takes(kind(), one_row)
    assert not on.batcher.takes(tree, Batch(2, np.zeros((2, 4)), None))
    assert not on.batcher.takes(tree, one_row, interval=0.9)
    assert not on.batcher.takes(kind(row_joinable=True, is_regression=True), one_row)
    assert not on.batcher.takes(kind(probabilities=False), one_row)  # labels only: nothing to join
