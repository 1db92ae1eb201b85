"""Ground truth over HTTP, in-process: feedback joins logged predictions by id and yields realised
performance with its interval; bad records are counted, never a 500; old ids are refused."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
import yaml

from tabserve.monitoring.ids import RequestIds, row_ids
from tabserve.monitoring.performance import wilson
from tests.support.servers import write_config

SETOSA = [5.1, 3.8, 1.5, 0.3]
VIRGINICA = [6.7, 3.0, 5.2, 2.3]
TOKEN = "feedback-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
RULES = Path(__file__).resolve().parents[3] / "deploy" / "prometheus" / "tabserve-alerts.yml"


def _config(tmp_path, iris_config, **monitoring):
    registry = yaml.safe_load(iris_config.read_text())["registry"]
    return write_config(
        tmp_path,
        registry,
        monitoring={"log_predictions": 1.0, **monitoring},
        server={"token": TOKEN, "reload_interval_s": 0.2},
    )


@pytest.fixture
def server(tmp_path, iris_config, start_app):
    started = start_app(_config(tmp_path, iris_config))
    started.wait()
    return started


def _ids(server, rows) -> list[str]:
    answer = server.client.post("/predict", json={"instances": rows})
    assert answer.status_code == 200
    return answer.json()["ids"]


def test_feedback_joins_logged_predictions_and_yields_realised_accuracy_with_its_interval(server):
    ids = _ids(server, [SETOSA] * 6 + [VIRGINICA] * 4)  # predicted: 6 setosa, 4 virginica
    single = server.client.post("/predict", json=SETOSA)
    ids += single.json()["ids"]
    assert single.headers["x-tabserve-request-id"] + "-0" == ids[-1]
    actual = ["setosa"] * 6 + ["virginica"] * 2 + ["versicolor"] * 2 + ["setosa"]  # 9 of 11 right
    records = [{"id": i, "actual": a} for i, a in zip(ids, actual, strict=True)]

    answer = server.client.post("/models/iris/feedback", json=records, headers=AUTH)
    assert answer.status_code == 200, answer.text
    assert answer.json() | {"reasons": []} == {
        "model": "iris",
        "received": 11,
        "accepted": 11,
        "duplicates": 0,
        "unknown_ids": 0,
        "wrong_type": 0,
        "expired": 0,
        "malformed": 0,
        "reasons": [],
    }

    report = server.client.get("/models/iris/performance").json()
    assert report["window"] == "hour"
    [version] = report["versions"]
    overall = version["overall"]
    assert version["version"] == 1 and overall["rows"] == 11
    assert overall["accuracy"] == pytest.approx(9 / 11)
    assert overall["accuracy_interval"] == pytest.approx(list(wilson(9, 11)))
    assert overall["accuracy_interval"][0] < 9 / 11 < overall["accuracy_interval"][1]
    assert 0 < overall["macro_f1"] < 1
    assert version["holdout"]["accuracy"] > 0.5
    assert sum(w["rows"] for w in version["windows"]) == 11
    assert server.client.get("/models/iris/performance?window=day").json()["window"] == "day"

    metrics = server.client.get("/metrics").text
    assert 'tabserve_realised_labelled_rows{model="iris",version="1"} 11.0' in metrics
    accuracy = re.search(r'tabserve_realised_accuracy\{model="iris",version="1"\} (\S+)', metrics)
    assert accuracy is not None and float(accuracy.group(1)) == pytest.approx(9 / 11)
    page = server.client.get("/ui/models/iris")
    assert page.status_code == 200
    realised = page.text.split("data-realised>", 1)[1].split("</section>", 1)[0]
    assert "over 11 labelled predictions" in realised and "<svg" in realised and "data-holdout=" in realised
    rules = RULES.read_text()
    exported = set(re.findall(r"^(tabserve_\w+)\{", metrics, re.MULTILINE))
    assert set(re.findall(r"\b(tabserve_(?:realised|holdout)_\w+)", rules)) <= exported


def test_bad_records_are_counted_and_a_record_sent_twice_counts_once(server):
    ids = _ids(server, [SETOSA] * 4)
    body = [
        {"id": ids[0], "actual": "setosa"},
        {"id": ids[0], "actual": "virginica"},  # the same id again in one call
        {"id": ids[1], "actual": 3.5},  # a number for a classifier
        {"id": ids[2], "actual": "dog"},  # not a class
        {"id": ids[3][:-1] + "9", "actual": "setosa"},  # a row this call did not have
        {"id": "not-an-id", "actual": "setosa"},
        {"actual": "setosa"},
        "setosa",
    ]
    answer = server.client.post("/models/iris/feedback", json=body, headers=AUTH)
    assert answer.status_code == 200, answer.text
    counts = answer.json()
    assert {k: counts[k] for k in ("received", "accepted", "duplicates", "unknown_ids", "wrong_type")} == {
        "received": 8,
        "accepted": 1,
        "duplicates": 1,
        "unknown_ids": 2,
        "wrong_type": 2,
    }
    assert counts["malformed"] == 2
    assert {r["record"] for r in counts["reasons"]} == {2, 3, 4, 5, 6, 7}
    assert "dog" not in answer.text and "not-an-id" not in answer.text  # reasons never echo values

    again = server.client.post("/models/iris/feedback", json=body[:1], headers=AUTH).json()
    assert (again["accepted"], again["duplicates"]) == (0, 1)


def test_bulk_feedback_as_csv_and_json_lines(server):
    ids = _ids(server, [SETOSA] * 3)
    csv_body = "id,actual\n" + "".join(f"{i},setosa\n" for i in ids[:2])
    answer = server.client.post(
        "/models/iris/feedback", content=csv_body, headers={**AUTH, "Content-Type": "text/csv"}
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["accepted"] == 2
    lines = f'{{"id": "{ids[2]}", "actual": "setosa"}}\nnot json\n'
    answer = server.client.post(
        "/models/iris/feedback", content=lines, headers={**AUTH, "Content-Type": "application/x-ndjson"}
    )
    assert (answer.json()["accepted"], answer.json()["malformed"]) == (1, 1)


def test_feedback_for_a_prediction_older_than_the_retention_is_refused_with_the_reason(server):
    days = server.settings.monitoring.retention_days
    old = RequestIds(clock_ns=lambda: time.time_ns() - int((days + 1) * 86_400 * 10**9))()
    answer = server.client.post(
        "/models/iris/feedback", json=[{"id": row_ids(old, 1)[0], "actual": "setosa"}], headers=AUTH
    ).json()
    assert (answer["expired"], answer["accepted"]) == (1, 0)
    assert answer["reasons"] == [
        {"record": 0, "reason": f"the prediction is older than the log's retention ({days:g} days)"}
    ]


def test_feedback_needs_the_token_and_a_readable_body(server):
    ids = _ids(server, [SETOSA])
    record = [{"id": ids[0], "actual": "setosa"}]
    assert server.client.post("/models/iris/feedback", json=record).status_code == 401
    bad_json = server.client.post(
        "/models/iris/feedback", content=b"{not json", headers={**AUTH, "Content-Type": "application/json"}
    )
    assert bad_json.status_code == 422
    no_column = server.client.post(
        "/models/iris/feedback", content="id,label\nx,y\n", headers={**AUTH, "Content-Type": "text/csv"}
    )
    assert no_column.status_code == 422 and "actual" in no_column.json()["detail"]
    form = server.client.post(  # what a cross-site page can send without a preflight
        "/models/iris/feedback", content=b"id=x", headers={**AUTH, "Content-Type": "text/plain"}
    )
    assert form.status_code == 415
    assert server.client.post("/models/wine/feedback", json=record, headers=AUTH).status_code == 404
    assert server.client.get("/models/iris/performance?window=week").status_code == 422


def test_without_the_prediction_log_feedback_says_why(tmp_path, iris_config, start_app):
    server = start_app(_config(tmp_path, iris_config, log_predictions=0.0))
    server.wait()
    page = server.client.get("/ui/models/iris").text
    assert "No ground truth yet: send it with POST /models/iris/feedback." in page
    answer = server.client.post("/models/iris/feedback", json=[], headers=AUTH)
    assert answer.status_code == 404 and "monitoring.log_predictions" in answer.json()["detail"]
