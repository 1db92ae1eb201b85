"""Service pieces checked in-process, without starting a server."""

from __future__ import annotations

import asyncio

import httpx

from tabserve.jobs.launcher import job_view
from tabserve.registry.metadata import JobRecord
from tabserve.service.app import create_app
from tests.conftest import make_settings


def test_job_view_hides_a_data_url_password():
    url = "postgresql+psycopg://trainer:S3CRETPW@db:5432/data"
    job = JobRecord(
        id="j1",
        model="iris",
        status="queued",
        done=0,
        total=0,
        version=None,
        error=None,
        overrides={"data": {"source": "sql", "url": url, "table": "t"}, "search": {"cv": 4}},
        created_at=0.0,
        started_at=None,
        finished_at=None,
        heartbeat_at=None,
        host=None,
        pid=None,
    )
    view = job_view(job)
    assert view["overrides"]["data"]["url"] == "postgresql+psycopg://trainer:***@db:5432/data"
    assert view["overrides"]["search"] == {"cv": 4}
    assert job.overrides["data"]["url"] == url  # the job itself keeps what it needs to run


def test_job_view_masks_credentials_in_every_url_valued_field():
    job = JobRecord(
        id="j2",
        model="iris",
        status="failed",
        done=0,
        total=0,
        version=None,
        error="data.path: cannot fetch http://reader:PAGEPW@files.example/x.csv (HTTP 500)",
        overrides={
            "data": {"source": "csv", "path": "https://reader:PAGEPW@files.example/x.csv"},
            "candidates": [{"estimator": "x", "grid": {"note": ["s3://KEYONLY@bucket/x"]}}],
        },
        created_at=0.0,
        started_at=None,
        finished_at=None,
        heartbeat_at=None,
        host=None,
        pid=None,
    )
    view = job_view(job)
    assert "PAGEPW" not in str(view) and "KEYONLY" not in str(view)
    assert view["overrides"]["data"]["path"] == "https://reader:***@files.example/x.csv"
    assert view["error"] == "data.path: cannot fetch http://reader:***@files.example/x.csv (HTTP 500)"


def test_unreadable_training_data_is_a_503_problem_not_a_500(tmp_path):
    settings = make_settings(tmp_path, data={"source": "csv", "path": str(tmp_path / "gone.csv")})
    app = create_app(settings)

    async def fetch() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            return await client.get("/visualise/pairplot.png")

    response = asyncio.run(fetch())
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "does not exist" in response.json()["detail"]
    assert "gone.csv" not in response.json()["detail"]  # no server path in an unauthenticated answer
