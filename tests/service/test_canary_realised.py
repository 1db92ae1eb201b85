"""The realised-metric abort rule in one app: predictions logged, ground truth sent back by id, and a
candidate whose labelled rows are worse than production's is ended by itself; one with too few
labelled rows is not."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from types import SimpleNamespace

import pytest

from tests.service.test_canary import EVALUATE_EVERY_S, _start, key_on
from tests.support.polling import eventually
from tests.support.servers import copy_registry, register_copy, write_config

SETOSA = [5.1, 3.5, 1.4, 0.2]
MIN_LABELLED = 20


@pytest.fixture
def served(tmp_path, trained_iris) -> Iterator[SimpleNamespace]:
    """v1 production, v2 (a copy) a canary at 50 %, every prediction logged, the realised rule at
    a 5-point accuracy drop over 20 labelled rows per version."""
    config = write_config(
        tmp_path,
        copy_registry(trained_iris[0], tmp_path / "registry"),
        monitoring={"log_predictions": 1.0},
        canary={
            "min_requests": 20,
            "window_requests": 40,
            "evaluate_every_s": EVALUATE_EVERY_S,
            "max_accuracy_drop": 0.05,
            "min_labelled_rows": MIN_LABELLED,
        },
    )
    assert register_copy(config) == 2
    for started in _start(config):
        answer = started.client.post("/models/iris/versions/2/canary", json={"weight": 50})
        assert answer.status_code == 200, answer.text
        eventually(lambda s=started: "iris" in s.state.canaries, "the canary served")
        yield started


def _labelled(served: SimpleNamespace, side: str, rows: int, right: bool) -> int:
    """``rows`` predictions answered by ``side``, then their ground truth: what was predicted when
    ``right``, another class otherwise. The version that answered them."""
    answer = served.client.post(
        "/predict",
        json={"instances": [SETOSA] * rows, "labels_only": True},
        headers={"X-Routing-Key": key_on(side, 50).decode()},
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    truth = [label if right else "virginica" for label in body["labels"]]
    records = [{"id": i, "actual": a} for i, a in zip(body["ids"], truth, strict=True)]
    sent = served.client.post("/models/iris/feedback", json=records)
    assert sent.status_code == 200 and sent.json()["accepted"] == rows, sent.text
    return body["version"]


def test_a_candidate_whose_labelled_rows_are_worse_is_aborted_and_says_why(served, caplog):
    assert _labelled(served, "production", 30, right=True) == 1
    assert _labelled(served, "candidate", 25, right=False) == 2
    with caplog.at_level(logging.WARNING, logger="tabserve.service.predict.canary_follow"):
        eventually(
            lambda: "iris" not in served.state.canaries, "the canary aborted", timeout=10 * EVALUATE_EVERY_S
        )
    ended = served.client.get("/models/iris/canary").json()["history"][0]
    assert ended["outcome"] == "aborted"
    assert ended["reason"] == (
        "realised accuracy 0.0% over 25 labelled predictions is 100.0% below production's 100.0% "
        "(over 30), more than canary.max_accuracy_drop (5.0%)"
    )
    move = served.client.get("/models/iris/history?alias=canary").json()["moves"][0]
    assert (move["action"], move["actor"]) == ("remove", "abort")
    assert move["reason"] == f"automatic abort: {ended['reason']}"
    assert any(
        "(rule realised_metric)" in r.getMessage() and ended["reason"] in r.getMessage()
        for r in caplog.records
    )
    assert (
        'tabserve_canary_aborts_total{model="iris",rule="realised_metric"} 1.0'
        in served.client.get("/metrics").text
    )
    assert {served.client.post("/predict", json=SETOSA).json()["version"] for _ in range(20)} == {1}


def test_a_candidate_with_too_few_labelled_rows_is_not_judged(served):
    _labelled(served, "production", 30, right=True)
    _labelled(served, "candidate", MIN_LABELLED - 1, right=False)

    def candidate_realised() -> dict | None:
        shown = served.client.get("/models/iris/canary").json()["versions"]
        return next(v["realised"] for v in shown if v["role"] == "candidate")

    eventually(lambda: candidate_realised() is not None, "the judge to read the labels")
    assert candidate_realised() == {"labelled_rows": MIN_LABELLED - 1, "accuracy": 0.0}
    metrics = served.client.get("/metrics").text
    assert 'tabserve_canary_labelled_rows{model="iris",role="candidate",version="2"} 19.0' in metrics
    assert 'tabserve_canary_realised_accuracy{model="iris",role="candidate",version="2"} 0.0' in metrics
    assert 'tabserve_canary_realised_accuracy{model="iris",role="production",version="1"} 1.0' in metrics
    time.sleep(3 * EVALUATE_EVERY_S)  # three more judgements on the same figures
    assert "iris" in served.state.canaries
    assert served.client.get("/models/iris/canary").json()["canary"]["version"] == 2
