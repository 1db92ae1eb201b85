"""POST /models/{name}/score: a configured source scored into a configured sink by a job process."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tabserve.config import load_settings
from tabserve.data import load_iris_frame
from tabserve.jobs import score_policy
from tabserve.jobs.runner import run_job
from tabserve.registry import open_registry
from tests.support.servers import InProcessServer, copy_registry, write_config
from tests.support.traffic import wait_for_job


def write_batch(folder: Path) -> Path:
    """The 150 iris rows with an id, two of them unscorable (a word, an infinity)."""
    frame = load_iris_frame().drop(columns="species")
    frame.insert(0, "id", np.arange(len(frame)))
    frame = frame.astype({"sepal_width": object})
    frame.loc[3, "sepal_width"] = "wide"
    frame.loc[70, "petal_length"] = np.inf
    path = folder / "batch.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.fixture
def score_config(tmp_path: Path, trained_iris) -> Path:
    registry = copy_registry(trained_iris[0], tmp_path / "registry")
    batch = write_batch(tmp_path)
    score = {
        "sources": [{"name": "daily", "source": "csv", "path": str(batch)}],
        "sink": {"name": "scored", "format": "parquet", "path": str(tmp_path / "out")},
        "sinks": [{"name": "as-csv", "format": "csv", "path": str(tmp_path / "out-csv")}],
        "key_columns": ["id"],
        "chunk_rows": 40,
    }
    return write_config(tmp_path, registry, score=score)


@pytest.fixture
def scoring_app(score_config: Path):
    with InProcessServer(score_config) as server:
        server.wait()
        yield server


@pytest.mark.parametrize(
    ("body", "headers", "status", "field"),
    [
        (b'{"source": "/etc/passwd", "sink": "scored"}', {}, 404, "source: no source of that name"),
        (b'{"source": "daily", "sink": "s3://bucket/x"}', {}, 404, "sink: no sink of that name"),
        (b'{"source": "daily", "sink": "scored", "path": "/tmp/x"}', {}, 422, "path: not a field"),
        (b'{"source": "daily"}', {}, 422, "sink: give the name"),
        (b'{"source": "daily", "sink": "scored", "version": 0}', {}, 422, "version:"),
        (b'{"source": "daily", "sink": "scored", "version": 99}', {}, 404, "version"),
        (b'["daily"]', {}, 422, "JSON object"),
        (b"{not json", {}, 400, "not valid JSON"),
        (b"source=daily", {"content-type": "text/csv"}, 415, "application/json"),
    ],
    ids=[
        "source-path",
        "sink-url",
        "extra-key",
        "no-sink",
        "version-0",
        "no-version",
        "list",
        "json",
        "media",
    ],
)
def test_bad_score_requests_are_refused_naming_the_field_never_echoing_it(
    scoring_app, body, headers, status, field
):
    response = scoring_app.client.post("/models/iris/score", content=body, headers=headers)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    detail = response.json()["detail"]
    assert field in detail
    for sent in ("/etc/passwd", "s3://bucket", "/tmp/x"):
        assert sent not in detail
    assert scoring_app.client.get("/jobs").json()["jobs"] == []


def test_the_refusal_lists_the_configured_names(scoring_app):
    response = scoring_app.client.post("/models/iris/score", json={"source": "weekly", "sink": "scored"})
    assert response.status_code == 404
    assert "(configured: daily)" in response.json()["detail"]
    unknown_model = scoring_app.client.post("/models/nope/score", json={"source": "daily", "sink": "scored"})
    assert unknown_model.status_code == 404


def test_a_token_is_needed_when_one_is_set(tmp_path, trained_iris):
    registry = copy_registry(trained_iris[0], tmp_path / "registry")
    score = {"sources": [{"name": "daily", "source": "csv", "path": str(write_batch(tmp_path))}]}
    config = write_config(tmp_path, registry, score=score, server={"token": "s3cret"})
    with InProcessServer(config) as server:
        server.wait()
        body = {"source": "daily", "sink": "scored"}
        assert server.client.post("/models/iris/score", json=body).status_code == 401
        wrong = server.client.post("/models/iris/score", json=body, headers={"authorization": "Bearer x"})
        assert wrong.status_code == 401


def test_one_job_writes_to_a_sink_at_a_time(scoring_app, score_config):
    settings = load_settings(score_config, environ={})
    registry = open_registry(settings)
    try:
        sink = settings.score.sink
        registry.metadata.create_job("a" * 32, "iris", {}, kind="score", lock=score_policy.sink_lock(sink))
    finally:
        registry.close()
    busy = scoring_app.client.post("/models/iris/score", json={"source": "daily", "sink": "scored"})
    assert busy.status_code == 409, busy.text
    assert busy.json()["job_id"] == "a" * 32
    assert "sink 'scored' is being written by another scoring job" in busy.json()["detail"]


def test_a_score_job_scores_the_source_into_the_sink_and_reports_its_rows(scoring_app, score_config):
    """The job process's work, run here: the row records partitions, rows scored and rejected."""
    settings = load_settings(score_config, environ={})
    registry = open_registry(settings)
    try:
        request = score_policy.ScoreRequest("daily", "as-csv")
        job = registry.metadata.create_job(
            "b" * 32, "iris", request.as_overrides(), kind="score", lock="score:test", version=1
        )
    finally:
        registry.close()
    assert run_job(settings, job.id) == 0

    shown = scoring_app.client.get(f"/jobs/{job.id}").json()
    assert shown["kind"] == "score" and shown["status"] == "succeeded" and shown["version"] == 1
    assert shown["progress"] == {"done": 1, "total": 1, "scored": 148, "rejected": 2}
    assert shown["overrides"] == {"score": {"source": "daily", "sink": "as-csv", "version": None}}
    listed = scoring_app.client.get("/jobs").json()["jobs"]
    assert [(j["id"], j["kind"]) for j in listed] == [(job.id, "score")]

    out = score_config.parent / "out-csv"
    answers = pd.concat(pd.read_csv(p) for p in out.glob("part-*.csv"))
    assert len(answers) == 148 and 3 not in set(answers["id"]) and set(answers["version"]) == {1}
    rejects = pd.concat(pd.read_csv(p) for p in (out / "_rejects").glob("*.csv"))
    assert rejects["row"].tolist() == [3, 70]

    page = scoring_app.client.get(f"/ui/jobs/{job.id}").text
    assert "Scoring job" in page and "148 rows, 2 rejected" in page
    assert "scoring" in scoring_app.client.get("/ui/jobs").text


def test_a_score_job_that_fails_says_why_and_frees_the_sink(scoring_app, score_config):
    (score_config.parent / "batch.csv").write_text("id,colour\n1,red\n")
    settings = load_settings(score_config, environ={})
    registry = open_registry(settings)
    sink = settings.score.sink
    try:
        request = score_policy.ScoreRequest("daily", "scored")
        job = registry.metadata.create_job(
            "c" * 32,
            "iris",
            request.as_overrides(),
            kind="score",
            lock=score_policy.sink_lock(sink),
            version=1,
        )
        assert run_job(settings, job.id) == 1
        failed = registry.metadata.get_job(job.id)
        assert registry.metadata.training_lock(score_policy.sink_lock(sink)) is None
    finally:
        registry.close()
    assert failed.status == "failed"
    assert "lacks the model's column(s)" in failed.error and "red" not in failed.error


@pytest.mark.slow
def test_a_server_scores_a_csv_source_into_a_parquet_sink(score_config, start_server):
    server = start_server(score_config)
    server.wait()
    accepted = server.client.post("/models/iris/score", json={"source": "daily", "sink": "scored"})
    assert accepted.status_code == 202, accepted.text
    job_id = accepted.json()["id"]
    assert accepted.headers["location"] == f"/jobs/{job_id}"

    job = wait_for_job(server, job_id, ("succeeded", "failed"))
    assert job["status"] == "succeeded", job
    assert (job["kind"], job["version"]) == ("score", 1)
    assert job["progress"] == {"done": 1, "total": 1, "scored": 148, "rejected": 2}
    answers = pd.read_parquet(next((score_config.parent / "out").glob("part-*.parquet")))
    assert len(answers) == 148
    assert list(answers.columns[:2]) == ["id", "prediction"]

    again = server.client.post("/models/iris/score", json={"source": "daily", "sink": "scored"})
    assert again.status_code == 202  # the sink is free again; the finished partition is skipped
    rerun = wait_for_job(server, again.json()["id"], ("succeeded", "failed"))
    assert rerun["progress"] == {"done": 1, "total": 1, "scored": 148, "rejected": 2}


def test_a_training_job_shows_no_row_counts(scoring_app, score_config):
    registry = open_registry(load_settings(score_config, environ={}))
    try:
        registry.metadata.create_job("f" * 32, "iris", {"search": {"cv": 2}})
    finally:
        registry.close()
    shown = scoring_app.client.get(f"/jobs/{'f' * 32}").json()
    assert (shown["kind"], shown["progress"], shown["error"]) == ("train", {"done": 0, "total": 0}, None)
    assert scoring_app.client.get("/jobs").json()["jobs"][0]["progress"] == {"done": 0, "total": 0}
