"""With several workers, any scrape of /metrics counts every worker's requests (a real server)."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.support.polling import eventually

SETOSA = [5.1, 3.8, 1.5, 0.3]
SENT = 120


def _predict_count(text: str) -> float:
    pattern = re.compile(r'^tabserve_http_requests_total\{[^}]*route="/predict"[^}]*\} (\S+)$', re.M)
    return sum(float(value) for value in pattern.findall(text))


@pytest.mark.slow
def test_every_scrape_counts_every_workers_requests(iris_config, start_server):
    server = start_server(iris_config, "--workers", "2")
    server.wait()  # one worker is ready; the other may still be loading the model
    eventually(
        lambda: all(httpx.get(f"{server.url}/readyz").status_code == 200 for _ in range(8)),
        "both workers ready",
    )
    for _ in range(SENT):  # a new connection each time: either worker may answer
        assert httpx.post(f"{server.url}/predict", json=SETOSA).status_code == 200
    scrapes = [httpx.get(f"{server.url}/metrics").text for _ in range(8)]
    assert [_predict_count(text) for text in scrapes] == [SENT] * len(scrapes)
    pids = set(re.findall(r'^tabserve_model_version\{[^}]*pid="(\d+)"', scrapes[-1], re.M))
    assert pids, "the loaded-version gauge names the worker it describes"
    assert server.terminate() == 0
