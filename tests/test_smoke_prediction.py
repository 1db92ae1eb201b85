"""No alias moves to a version that cannot predict, and a server is not ready until each model did."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

import tabserve
from tabserve.config import Settings
from tabserve.errors import ConflictError
from tabserve.predictor import Predictor
from tabserve.registry import PRODUCTION, open_registry
from tabserve.service.app import create_app, with_fast_predict
from tabserve.smoke import SmokeTestError
from tabserve.workflow import train_and_register
from tests.support.settings import make_settings

ROW = [5.1, 3.5, 1.4, 0.2]
ONE_CANDIDATE = [{"estimator": "sklearn.linear_model.LogisticRegression", "grid": {"C": [1.0]}}]


def _settings(root: Path) -> Settings:
    return make_settings(
        root,
        candidates=ONE_CANDIDATE,
        registry={"pictures": False},
        server={"allow_unauthenticated": True, "reload_interval_s": 0.2},
        monitoring={"drift": False},
    )


@pytest.fixture
def two_versions(tmp_path: Path) -> Settings:
    """v1 production, v2 stored but not production (auto_promote off)."""
    settings = _settings(tmp_path)
    assert train_and_register(settings).promoted
    later = settings.model_copy(
        update={"registry": settings.registry.model_copy(update={"auto_promote": False})}
    )
    assert not train_and_register(later).promoted
    return settings


def _break_predictions(monkeypatch: pytest.MonkeyPatch, version: int | None = None) -> None:
    """Every prediction (of ``version``, or of all) raises, as a model broken in serving would."""
    real = Predictor.predict

    def predict(self: Predictor, batch, labels_only: bool = False):
        if version is None or self.version == version:
            raise RuntimeError("boom")
        return real(self, batch, labels_only)

    monkeypatch.setattr(Predictor, "predict", predict)


def test_a_version_keeps_sample_rows_and_passes_its_smoke_prediction(two_versions: Settings) -> None:
    with open_registry(two_versions) as registry:
        record = registry.get("iris", 2)
        rows = json.loads(registry.read_file(record, "sample"))
    assert len(rows) == 5 and all(len(row) == 4 for row in rows)


def test_training_does_not_promote_a_first_version_that_cannot_predict(tmp_path, monkeypatch) -> None:
    settings = _settings(tmp_path)
    _break_predictions(monkeypatch)
    with pytest.raises(SmokeTestError, match=r"model 'iris' version 1 cannot predict: RuntimeError: boom"):
        train_and_register(settings)
    with open_registry(settings) as registry:
        assert registry.metadata.alias_version("iris", PRODUCTION) is None


def test_promote_and_rollback_refuse_a_version_that_cannot_predict(two_versions, monkeypatch, capsys) -> None:
    from tabserve.cli import main

    config = Path(two_versions.registry.artifacts).parent / "config.json"
    config.write_text(json.dumps(two_versions.model_dump(mode="json", exclude={"server": {"token"}})))
    _break_predictions(monkeypatch, version=2)
    assert main(["models", "promote", "2", "-c", str(config)]) == 1
    err = capsys.readouterr().err
    assert "version 2 cannot predict: RuntimeError: boom; not promoted" in err
    with tabserve.Registry.from_config(config) as notebook:
        with pytest.raises(ConflictError, match="version 2 cannot predict"):
            notebook.promote("iris", 2)
        assert notebook.version("iris")["version"] == 1
    monkeypatch.undo()
    assert main(["models", "promote", "2", "-c", str(config)]) == 0
    _break_predictions(monkeypatch, version=1)
    assert main(["models", "rollback", "-c", str(config)]) == 1
    assert "version 1 cannot predict: RuntimeError: boom; not rolled back" in capsys.readouterr().err
    with open_registry(two_versions) as registry:
        assert registry.metadata.alias_version("iris", PRODUCTION) == 2


def test_register_refuses_to_promote_a_model_that_cannot_predict(two_versions, monkeypatch) -> None:
    with open_registry(two_versions) as registry:
        model = registry.load_model(registry.get("iris", 1))
    x = [dict(zip(["sepal_length", "sepal_width", "petal_length", "petal_width"], ROW, strict=True))]
    import pandas as pd

    _break_predictions(monkeypatch, version=3)
    with pytest.raises(ConflictError, match="model 'iris' version 3 cannot predict"):
        tabserve.register(model, name="iris", X_sample=pd.DataFrame(x), registry=two_versions, promote=True)


@contextlib.asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=with_fast_predict(app))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            yield client


async def _readyz_after_first_look(client: httpx.AsyncClient) -> httpx.Response:
    """/readyz once the reloader has looked at the alias (it answers something other than starting)."""
    for _ in range(400):
        response = await client.get("/readyz")
        if response.status_code == 200 or "starting" not in response.text:
            return response
        await asyncio.sleep(0.05)
    raise AssertionError("the reloader never looked at the alias")


def test_http_promote_is_a_409_and_readyz_waits_for_the_smoke_prediction(two_versions, monkeypatch) -> None:
    async def scenario() -> None:
        async with serving(two_versions) as client:
            ready = await _readyz_after_first_look(client)
            assert ready.status_code == 200, ready.text
            _break_predictions(monkeypatch, version=2)
            refused = await client.post("/models/iris/versions/2/promote")
            assert refused.status_code == 409
            assert "version 2 cannot predict: RuntimeError: boom" in refused.json()["detail"]
        _break_predictions(monkeypatch)
        async with serving(two_versions) as client:
            ready = await _readyz_after_first_look(client)
            assert ready.status_code == 503
            assert "version 1 cannot predict" in ready.text

    asyncio.run(scenario())


def test_an_unexpected_error_while_predicting_is_a_problem_with_a_request_id(
    two_versions, monkeypatch, caplog
):
    async def scenario() -> list[httpx.Response]:
        async with serving(two_versions) as client:
            assert (await _readyz_after_first_look(client)).status_code == 200
            _break_predictions(monkeypatch)
            batch = await client.post("/predict", json={"instances": [ROW, ROW]})
            oip = await client.post(
                "/v2/models/iris/infer",
                json={"inputs": [{"name": "x", "datatype": "FP64", "shape": [2, 4], "data": ROW + ROW}]},
            )
            return [batch, oip]

    with caplog.at_level(logging.ERROR):
        batch, oip = asyncio.run(scenario())
    assert batch.status_code == 500
    assert batch.headers["content-type"].startswith("application/problem+json")
    request_id = batch.json()["request_id"]
    assert batch.headers["x-request-id"] == request_id and request_id in batch.json()["detail"]
    assert oip.status_code == 500
    logged = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert any(request_id in line for line in logged)
    oip_id = oip.json()["error"].rsplit(" ", 1)[-1]
    assert any(oip_id in line for line in logged) and oip_id != request_id
