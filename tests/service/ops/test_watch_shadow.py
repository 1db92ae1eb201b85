"""Shadow scoring in a server of this process: agreement, confusion and latency of a candidate, and a
candidate that raises or hangs changes nothing for the caller."""

from __future__ import annotations

import re
import shutil
import subprocess
import threading
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_iris

from tabserve.config import load_settings
from tabserve.service.app import create_app, with_fast_predict
from tests.support.polling import eventually
from tests.support.prediction_ids import masked_json
from tests.support.servers import register_copy, serve_in_thread, write_config

TOKEN = "shadow-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def app_with_v2(tmp_path, iris_config):
    import yaml

    registry = yaml.safe_load(iris_config.read_text())["registry"]
    config = write_config(tmp_path, registry, server={"token": TOKEN, "reload_interval_s": 0.2})
    assert register_copy(config) == 2  # the same model again, not promoted: production stays 1
    return create_app(load_settings(config, environ={}))


def _rows(count: int) -> list[list[float]]:
    data = load_iris().data
    return data[np.random.default_rng(0).integers(0, len(data), count)].tolist()


def _wait_ready(client) -> None:
    eventually(lambda: client.get("/readyz").status_code == 200, "the app ready")


def test_a_shadow_version_agrees_and_its_figures_show_on_the_route_and_metrics(app_with_v2):
    with serve_in_thread(with_fast_predict(app_with_v2)) as client:
        _wait_ready(client)
        assert client.post("/models/iris/versions/2/shadow").status_code == 401
        started = client.post("/models/iris/versions/2/shadow", headers=AUTH)
        assert started.json() == {"model": "iris", "shadow_version": 2, "production_version": 1}
        rows = _rows(60)
        for row in rows[:40]:
            assert client.post("/predict", json=row).status_code == 200
        assert client.post("/predict", json={"instances": rows[40:]}).status_code == 200
        report = client.get("/models/iris/shadow").json()
        (pair,) = report["pairs"]
        assert pair["production_version"] == 1 and pair["shadow_version"] == 2
        assert pair["rows"] == 60 and pair["agreement"] == 1.0 and pair["errors"] == 0
        matrix = np.array(pair["confusion"]["rows_production_columns_shadow"])
        assert matrix.sum() == 60 and np.trace(matrix) == 60
        assert pair["latency_ms"]["calls"] == 41 and pair["latency_ms"]["p99"] > 0
        metrics = client.get("/metrics").text
        labels = 'model="iris",production_version="1",shadow_version="2"'
        assert f"tabserve_shadow_agreement{{{labels}}} 1.0" in metrics
        assert f"tabserve_shadow_rows_total{{{labels}}} 60.0" in metrics
        assert f"tabserve_shadow_latency_seconds_count{{{labels}}} 41.0" in metrics

        assert client.delete("/models/iris/shadow", headers=AUTH).json()["stopped_version"] == 2
        assert client.post("/predict", json=rows[0]).status_code == 200
        assert client.get("/models/iris/shadow").json()["pairs"][0]["rows"] == 60  # no longer scored
        assert client.delete("/models/iris/shadow", headers=AUTH).status_code == 404
        assert client.post("/models/iris/versions/9/shadow", headers=AUTH).status_code == 404


def test_a_shadow_that_raises_changes_nothing_for_the_caller(app_with_v2):
    with serve_in_thread(with_fast_predict(app_with_v2)) as client:
        _wait_ready(client)
        rows = _rows(30)
        before = [masked_json(client.post("/predict", json={"instances": [row]})) for row in rows]
        assert client.post("/models/iris/versions/2/shadow", headers=AUTH).status_code == 200
        shadow = app_with_v2.state.service.watch.shadow
        candidate = shadow.candidates[("iris", 2)]

        def broken(*_args, **_kwargs):
            raise RuntimeError("the candidate is broken")

        candidate.predict = broken
        candidate.predict_row = broken
        after = [masked_json(client.post("/predict", json={"instances": [row]})) for row in rows]
        assert after == before
        (pair,) = client.get("/models/iris/shadow").json()["pairs"]
        assert pair["errors"] == 30 and pair["rows"] == 0


def test_a_shadow_that_hangs_changes_nothing_for_the_caller(app_with_v2):
    """While the candidate is stuck (until the test lets it go), every prediction is still answered."""
    release = threading.Event()
    with serve_in_thread(with_fast_predict(app_with_v2)) as client:
        _wait_ready(client)
        assert client.post("/models/iris/versions/2/shadow", headers=AUTH).status_code == 200
        watch = app_with_v2.state.service.watch
        candidate = watch.shadow.candidates[("iris", 2)]
        original = candidate.predict_row
        stuck = threading.Event()

        def hang(row):
            stuck.set()
            release.wait(60)
            return original(row)

        candidate.predict_row = hang
        try:
            rows = _rows(200)
            assert client.post("/predict", json=rows[0]).status_code == 200
            assert stuck.wait(30), "the shadow never started scoring"
            answers = [client.post("/predict", json=row) for row in rows]
            assert [a.status_code for a in answers] == [200] * 200
            assert all(a.json()["version"] == 1 for a in answers)
        finally:
            release.set()
        report = client.get("/models/iris/shadow").json()
        assert report["pairs"][0]["rows"] == 201  # once let go, it scored every queued call


def test_server_shadow_in_the_config_names_a_served_model(tmp_path):
    from tabserve.errors import ConfigError

    with pytest.raises(ConfigError, match=r"server\.shadow: 'wine' is not a served model"):
        load_settings(environ={}, overrides={"server": {"shadow": {"wine": 2}}})
    assert load_settings(environ={}, overrides={"server": {"shadow": {"iris": 2}}}).server.shadow == {
        "iris": 2
    }


RULES = Path(__file__).resolve().parents[3] / "deploy" / "prometheus" / "tabserve-alerts.yml"
PROMETHEUS_OWN = {"up"}  # made by Prometheus itself, not by the target
# Exported once ground truth arrives: tests/service/ops/test_feedback.py checks them on /metrics.
NEEDS_FEEDBACK = re.compile(r"tabserve_(realised|holdout)_")


def _rule_metrics() -> set[str]:
    import re

    import yaml

    names = set()
    for group in yaml.safe_load(RULES.read_text())["groups"]:
        for rule in group["rules"]:
            expression = re.sub(r"\{[^}]*\}", "", rule["expr"])  # label matchers are not names
            names |= set(re.findall(r"\b(tabserve_[a-z0-9_]+|up)\b", expression))
    return names


def test_every_metric_the_alert_rules_use_is_on_metrics(app_with_v2):
    names = _rule_metrics()
    assert {"tabserve_drift_psi", "tabserve_shadow_rows_total", "tabserve_http_requests_total"} <= names
    with serve_in_thread(with_fast_predict(app_with_v2)) as client:
        _wait_ready(client)
        assert client.post("/models/iris/versions/2/shadow", headers=AUTH).status_code == 200
        assert client.post("/predict", json=_rows(1)[0]).status_code == 200
        # Enough rows for a drift verdict (monitoring.drift_min_rows), so the PSI gauges are there.
        assert client.post("/predict", json={"instances": _rows(200)}).status_code == 200
        assert client.get("/models/iris/shadow").status_code == 200
        assert client.get("/models/iris/drift").status_code == 200
        exposed = {line.split("{")[0].split(" ")[0] for line in client.get("/metrics").text.splitlines()}
    missing = sorted(
        name for name in names - PROMETHEUS_OWN if name not in exposed and not NEEDS_FEEDBACK.match(name)
    )
    assert missing == [], f"alert rules use metrics /metrics does not have: {missing}"


def test_the_alert_rules_pass_promtool():
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip(
            "promtool not installed (Debian: apt-get install prometheus); metric names are checked above"
        )
    checked = subprocess.run(
        [promtool, "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 8 rules found" in checked.stdout


def test_the_drift_alerts_wait_for_enough_rows_in_promtool_unit_tests():
    """deploy/prometheus/tabserve-alerts.test.yml: huge PSIs over a dozen rows fire nothing; a canary's
    abort fires its alert and a counter at 0 or reset by a restart does not."""
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool not installed (Debian: apt-get install prometheus)")
    tests = RULES.with_name("tabserve-alerts.test.yml")
    checked = subprocess.run(
        [promtool, "test", "rules", str(tests)], capture_output=True, text=True, timeout=60
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
