"""Hostile passwords never leave the server: not in jobs, console pages, /readyz, 503s or the log."""

from __future__ import annotations

import html
import logging
import time

import pytest

from tabserve.config import load_settings
from tabserve.registry import StoredFile, open_registry
from tabserve.registry.records import DESCRIBING_FIELDS
from tabserve.service.app import create_app
from tabserve.workflow import recorded_config
from tests.support.servers import copy_registry, serve_in_thread
from tests.support.settings import make_settings
from tests.test_urls import HOSTILE_URLS

DATABASE_URLS = [url for url in HOSTILE_URLS.values() if "://" in url and not url.startswith("https")]


def _shown(text: str) -> str:
    return html.unescape(text)


def test_train_sources_and_job_urls_are_masked_on_every_route_and_page(tmp_path, trained_iris):
    registry_section = copy_registry(trained_iris[0], tmp_path / "registry")
    sources = [{"source": "sql", "url": url, "table": "t", "target": "species"} for url in DATABASE_URLS]
    settings = make_settings(tmp_path, registry=registry_section, server={"train_sources": sources})
    registry = open_registry(settings)
    try:
        record = registry.get("iris", 1)
        files = [StoredFile("model", "model.skops", registry.read_file(record))]
        fields = {name: getattr(record, name) for name in DESCRIBING_FIELDS}
        assert registry.register("iris", files, {**fields, "config": recorded_config(settings)}) == 2
        # A version recorded before masking parsed URLs: its config holds them whole.
        raw = settings.model_dump(mode="json", exclude={"server": {"token"}})
        assert registry.register("iris", files, {**fields, "config": raw}) == 3
        for number, url in enumerate(DATABASE_URLS):
            job_id = f"job{number}"
            registry.metadata.create_job(job_id, "iris", {"data": sources[number]})
            registry.metadata.finish_job(
                job_id, "iris", status="failed", error=f"data.url: cannot reach '{url}': refused"
            )
    finally:
        registry.close()

    with serve_in_thread(create_app(settings)) as client:
        listed = client.get("/jobs")
        assert listed.status_code == 200, listed.text
        assert len(listed.json()["jobs"]) == len(DATABASE_URLS)
        pages = {"/jobs": listed.text}
        for number in range(len(DATABASE_URLS)):
            pages[f"/jobs/job{number}"] = client.get(f"/jobs/job{number}").text
            pages[f"/ui/jobs/job{number}"] = client.get(f"/ui/jobs/job{number}").text
        for version in (2, 3):
            page = client.get(f"/ui/models/iris/versions/{version}")
            assert page.status_code == 200
            pages[page.url.path] = page.text
        for path, text in pages.items():
            assert "SECRET" not in _shown(text), path
        assert "127.0.0.1:5432/data" in _shown(pages["/ui/models/iris/versions/3"])  # masked, not dropped


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg://postgres:Sl/ashSECRET1@127.0.0.1:1/tabserve",
        "postgresql+psycopg://postgres:pct%2FSECRET4@127.0.0.1:1/tabserve",
        "postgresql+psycopg://postgres@127.0.0.1:1/tabserve?password=SECRET6",
    ],
    ids=["slash", "percent-2F", "query"],
)
def test_a_registry_outage_is_one_plain_sentence_to_clients_and_details_in_the_log(tmp_path, url, caplog):
    settings = load_settings(
        environ={},
        overrides={
            "registry": {"url": url, "artifacts": str(tmp_path / "artifacts")},
            "logging": {"file": None},
            "server": {"reload_interval_s": 0.2},
        },
    )
    caplog.set_level(logging.INFO)
    with serve_in_thread(create_app(settings)) as client:
        deadline = time.monotonic() + 60
        while "unreachable" not in (ready := client.get("/readyz")).text:
            assert time.monotonic() < deadline, ready.text
            time.sleep(0.1)
        answers = [ready, client.get("/models/iris"), client.get("/models/iris/versions/1")]
        answers.append(client.get("/ui/models/iris"))
        for answer in answers:
            assert answer.status_code == 503, (answer.url, answer.text)
            body = _shown(answer.text)
            assert "the registry database is unreachable" in body, body
            for detail in ("SECRET", "127.0.0.1", "psycopg", "postgres", ":1/", "tabserve?"):
                assert detail not in body, (answer.url, detail, body)
    log = caplog.text
    assert "127.0.0.1:1/tabserve" in log  # the operator still learns where and why
    assert "SECRET" not in log
