"""A pipeline fitted in a test, registered through the Python API and the CLI, served over HTTP."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import skops.io
import yaml

import tabserve
from tabserve.errors import UntrustedTypesError
from tests.support.notebook_models import custom_pipeline, customers, mixed_pipeline
from tests.support.servers import write_config

REPO = Path(__file__).resolve().parents[3]
TABSERVE = str(Path(sys.executable).with_name("tabserve"))


def _registry_section(root: Path) -> dict:
    return {"url": f"sqlite:///{root / 'registry.db'}", "artifacts": str(root / "artifacts")}


def _config(root: Path, registry: dict, model: str) -> Path:
    """A server config for ``model`` on a shared registry, in its own folder."""
    root.mkdir(parents=True, exist_ok=True)
    path = write_config(root, registry)
    config = yaml.safe_load(path.read_text())
    path.write_text(yaml.safe_dump({**config, "model": model}))
    return path


def _answers(server, path: str, frame) -> tuple[list[str], np.ndarray]:
    response = server.client.post(path, json={"instances": frame.to_dict(orient="records")})
    assert response.status_code == 200, response.text
    body = response.json()
    return body["labels"], np.array([body["probabilities"][c] for c in body["classes"]]).T


def _unready_reason_after_start(server, timeout: float = 60) -> str:
    """The /readyz 503 detail once the server has tried to load (it says "starting" before that)."""

    def finished_starting() -> str | None:
        detail = server.wait("/readyz", status=503).json()["detail"]
        return None if "starting" in detail else detail

    return server.until(finished_starting, "the server finishing its start", timeout)


def _cli(config: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([TABSERVE, "-c", str(config), *args], capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_api_and_cli_versions_answer_over_http_as_the_notebook_does(tmp_path, start_server):
    x, y = customers()
    x_train, x_test, y_train, y_test = x[:180], x[180:], y[:180], y[180:]
    config = _config(tmp_path, _registry_section(tmp_path / "registry"), "churn")
    first = mixed_pipeline(x_train, y_train)
    api = tabserve.register(
        first,
        name="churn",
        X_sample=x_train.head(20),
        X_test=x_test,
        y_test=y_test,
        registry=config,
        description="soft vote, first fit",
    )
    assert api.version == 1

    second = mixed_pipeline(x_train.iloc[::-1], y_train.iloc[::-1])  # another fit, stored by the CLI
    skops.io.dump(second, tmp_path / "second.skops")
    x_train.head(20).to_csv(tmp_path / "sample.csv", index=False)
    x_test.assign(churn=y_test).to_csv(tmp_path / "test.csv", index=False)
    sample, test = str(tmp_path / "sample.csv"), str(tmp_path / "test.csv")
    plain = _cli(config, "register", str(tmp_path / "second.skops"), "--name", "churn", "--sample", sample)
    assert plain.returncode == 0, plain.stderr
    assert plain.stdout.startswith("model churn version 2")  # no --test: no hold-out metrics
    cli = _cli(
        config,
        "register",
        str(tmp_path / "second.skops"),
        *("--name", "churn", "--sample", sample, "--test", test, "--target", "churn"),
    )
    assert cli.returncode == 0, cli.stderr
    assert cli.stdout.startswith("model churn version 3")

    # version 1 as a folder, registered back: version 4 answers as the first fit does
    exported = _cli(config, "models", "export", "1", "--model", "churn", "-o", str(tmp_path / "v1"))
    assert exported.returncode == 0, exported.stderr
    folder = _cli(config, "register", str(tmp_path / "v1"), "--name", "churn")
    assert folder.returncode == 0, folder.stderr
    assert folder.stdout.startswith("model churn version 4")

    server = start_server(config)
    server.wait()
    for version, model in ((1, first), (2, second), (3, second), (4, first)):
        labels, probabilities = _answers(server, f"/models/churn/versions/{version}/predict", x_test)
        assert labels == model.predict(x_test).tolist(), version
        np.testing.assert_array_equal(probabilities, model.predict_proba(x_test))

    listing = server.client.get("/models/churn").json()
    second_accuracy = float((second.predict(x_test) == y_test).mean())
    assert [v["accuracy"] for v in listing["versions"]] == [
        api.metrics["accuracy"],
        None,  # registered without hold-out rows
        pytest.approx(second_accuracy),
        api.metrics["accuracy"],
    ]
    for version in (1, 4):
        detail = server.client.get(f"/models/churn/versions/{version}").json()
        assert detail["metrics"]["confusion_matrix"] == api.metrics["confusion_matrix"]
        assert detail["feature_schema"]["target"] == "churn"
        assert detail["description"] == "soft vote, first fit"
    detail = server.client.get("/models/churn/versions/3").json()
    assert detail["metrics"]["accuracy"] == pytest.approx(second_accuracy)
    assert detail["description"] is None
    png = server.client.get("/models/churn/versions/3/confusion_matrix.png")
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG")


@pytest.mark.slow
def test_custom_type_refused_then_trusted_then_served_only_where_trusted(tmp_path, start_server, monkeypatch):
    x, y = customers()
    numbers = x[["age", "spend"]]
    pipeline = custom_pipeline(numbers, y)
    registry = _registry_section(tmp_path / "registry")
    untrusting = _config(tmp_path / "plain", registry, "custom")
    with pytest.raises(UntrustedTypesError, match=r"tests\.support\.custom_transformers\.LogShift"):
        tabserve.register(pipeline, name="custom", X_sample=numbers.head(10), registry=untrusting)

    trusting = _config(
        tmp_path / "trusting", {**registry, "trusted_types": ["tests.support.custom_transformers"]}, "custom"
    )
    tabserve.register(pipeline, name="custom", X_sample=numbers.head(10), registry=trusting)
    monkeypatch.setenv("PYTHONPATH", str(REPO))  # the server imports the user's module, as deployed

    server = start_server(trusting)
    server.wait()
    labels, probabilities = _answers(server, "/models/custom/predict", numbers)
    assert labels == pipeline.predict(numbers).tolist()
    np.testing.assert_array_equal(probabilities, pipeline.predict_proba(numbers))

    refusing = start_server(untrusting)  # same registry, a config that does not trust the class
    assert "tests.support.custom_transformers.LogShift" in _unready_reason_after_start(refusing)
    assert refusing.client.post("/models/custom/predict", json=[[30, 40.0]]).status_code == 503
