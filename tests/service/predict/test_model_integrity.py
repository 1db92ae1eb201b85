"""Every file of a version is checked before it is loaded or promoted; errors name no path (issue 9, 4-6)."""

from __future__ import annotations

import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from tabserve.config import load_settings
from tabserve.errors import ConflictError, IntegrityError
from tabserve.predictor import Predictor
from tabserve.registry import open_registry
from tests.support.servers import TABSERVE, register_copy, serve_in_thread
from tests.support.traffic import damage


def _registry(config: Path):
    return open_registry(load_settings(config, environ={}))


def test_a_damaged_model_file_stops_a_load_even_when_another_file_serves(iris_config):
    registry = _registry(iris_config)
    try:
        assert {"model", "compiled"} <= set(registry.get("iris", 1).artifacts)  # served from compiled.npz
    finally:
        registry.close()
    name = damage(iris_config, 1, "model")
    registry = _registry(iris_config)
    try:
        with pytest.raises(IntegrityError) as error:
            Predictor.load(registry, "iris", 1)
    finally:
        registry.close()
    assert f"version 1: its model file ({name}) failed its checksum" in str(error.value)
    assert "artifacts" not in str(error.value) and str(iris_config.parent) not in str(error.value)


def test_promotion_refuses_a_version_with_a_damaged_file(iris_config):
    second = register_copy(iris_config)
    name = damage(iris_config, second, "model")
    result = subprocess.run(
        [TABSERVE, "-c", str(iris_config), "models", "promote", str(second)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=iris_config.parent,
    )
    assert result.returncode == 1, result
    error = next(line for line in result.stderr.splitlines() if line.startswith("tabserve: error:"))
    assert f"version {second}" in error and name in error and "checksum" in error
    assert str(iris_config.parent) not in error  # the path is in the log line above it, not the error
    registry = _registry(iris_config)
    try:
        assert registry.metadata.alias_version("iris") == 1  # the alias did not move
        with pytest.raises(ConflictError, match="not promoted"):
            registry.promote("iris", second)
    finally:
        registry.close()


def test_http_promotion_of_a_damaged_version_is_409_and_unready_text_has_no_path(iris_config):
    from tabserve.service.app import create_app

    second = register_copy(iris_config)
    damage(iris_config, second, "model")
    settings = load_settings(iris_config, environ={})
    with serve_in_thread(create_app(settings)) as client:
        answer = client.post(f"/models/iris/versions/{second}/promote")
        assert answer.status_code == 409, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        assert f"version {second}" in answer.json()["detail"] and "checksum" in answer.json()["detail"]
        assert str(iris_config.parent) not in answer.text
    damage(iris_config, 1, "compiled")
    with serve_in_thread(create_app(settings)) as client:
        ready = client.get("/readyz")
        predicted = client.post("/predict", json=[5.1, 3.5, 1.4, 0.2])
    assert ready.status_code == 503 and predicted.status_code == 503
    for answer in (ready, predicted):
        assert "checksum" in answer.text
        assert str(iris_config.parent) not in answer.text and "artifacts" not in answer.text


def _promoted_copy_over_damaged_v1(config: Path) -> tuple[int, str]:
    """v2 promoted over v1, then v1's model file damaged: a rollback would serve a broken version."""
    second = register_copy(config)
    registry = _registry(config)
    try:
        registry.promote("iris", second)
    finally:
        registry.close()
    return second, damage(config, 1, "model")


def _production(config: Path) -> int | None:
    registry = _registry(config)
    try:
        return registry.metadata.alias_version("iris")
    finally:
        registry.close()


def test_cli_rollback_refuses_a_target_with_a_damaged_file(iris_config):
    second, name = _promoted_copy_over_damaged_v1(iris_config)
    result = subprocess.run(
        [TABSERVE, "-c", str(iris_config), "models", "rollback"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=iris_config.parent,
    )
    assert result.returncode == 1, result
    error = next(line for line in result.stderr.splitlines() if line.startswith("tabserve: error:"))
    assert "version 1" in error and name in error and "checksum" in error and "not rolled back" in error
    assert str(iris_config.parent) not in error and "artifacts" not in error
    assert _production(iris_config) == second  # the alias did not move


def test_http_rollback_refuses_a_target_with_a_damaged_file(iris_config):
    from tabserve.service.app import create_app

    second, name = _promoted_copy_over_damaged_v1(iris_config)
    with serve_in_thread(create_app(load_settings(iris_config, environ={}))) as client:
        answer = client.post("/models/iris/rollback")
    assert answer.status_code == 409, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    detail = answer.json()["detail"]
    assert "version 1" in detail and name in detail and "checksum" in detail
    assert str(iris_config.parent) not in answer.text and "artifacts" not in answer.text
    assert _production(iris_config) == second


def test_rollback_to_a_sound_version_still_moves_the_alias(iris_config):
    second = register_copy(iris_config)
    registry = _registry(iris_config)
    try:
        registry.promote("iris", second)
        assert registry.rollback("iris") == 1
        assert registry.metadata.alias_version("iris") == 1
    finally:
        registry.close()


@pytest.mark.parametrize("table", ["tabserve_versions", "tabserve_jobs", "tabserve_aliases"])
def test_a_missing_registry_table_is_503_naming_the_schema(iris_config, table):
    from tabserve.service.app import create_app

    settings = load_settings(iris_config, environ={})
    with serve_in_thread(create_app(settings)) as client:
        database = settings.registry.url.removeprefix("sqlite:///")
        with sqlite3.connect(database) as conn:
            conn.execute(f"ALTER TABLE {table} RENAME TO {table}_renamed")
        statuses: list[int] = []
        for method, path in [
            ("GET", "/models"),
            ("GET", "/models/iris/versions/1"),
            ("GET", "/jobs/" + "a" * 32),
            ("POST", "/models/iris/versions/1/promote"),
        ]:
            answer = client.request(method, path)
            statuses.append(answer.status_code)
            if answer.status_code != 503:  # a route that does not read this table answers normally
                assert answer.status_code < 500, (method, path, answer.text)
                continue
            assert "registry schema is not as expected" in answer.json()["detail"], answer.text
    assert 503 in statuses and 500 not in statuses


OIP_ROW = {"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP64", "data": [5.1, 3.5, 1.4, 0.2]}]}


def test_a_damaged_version_answers_409_naming_it_in_every_protocols_shape(iris_config):
    from tabserve.service.app import create_app

    second = register_copy(iris_config)
    name = damage(iris_config, second, "model")
    with serve_in_thread(create_app(load_settings(iris_config, environ={}))) as client:
        answers = {
            "tabserve": client.post(f"/models/iris/versions/{second}/predict", json=[5.1, 3.5, 1.4, 0.2]),
            "oip infer": client.post(f"/v2/models/iris/versions/{second}/infer", json=OIP_ROW),
            "oip metadata": client.get(f"/v2/models/iris/versions/{second}"),
        }
        assert client.post("/predict", json=[5.1, 3.5, 1.4, 0.2]).status_code == 200  # v1 is sound
    for protocol, answer in answers.items():
        assert answer.status_code == 409, (protocol, answer.text)
        assert str(iris_config.parent) not in answer.text and "artifacts" not in answer.text
        message = answer.json()["detail"] if protocol == "tabserve" else answer.json()["error"]
        assert f"version {second}" in message and name in message and "checksum" in message, message
    problem = answers["tabserve"].json()
    assert problem["type"] == "urn:tabserve:problem:integrity"
    assert answers["tabserve"].headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("kind", ["pairplot", "confusion_matrix"])
def test_a_damaged_picture_costs_that_picture_not_the_model(iris_config, kind):
    from tabserve.service.app import create_app

    registry = _registry(iris_config)
    try:
        assert kind in registry.get("iris", 1).artifacts  # trained here: the pictures are stored
    finally:
        registry.close()
    name = damage(iris_config, 1, kind)
    second = register_copy(iris_config)  # a sound copy to promote and roll back over the damage
    with serve_in_thread(create_app(load_settings(iris_config, environ={}))) as client:
        deadline = time.monotonic() + 60
        while (ready := client.get("/readyz")).status_code != 200:
            assert time.monotonic() < deadline, ready.text
            time.sleep(0.05)
        assert ready.json()["version"] == 1
        predicted = client.post("/predict", json=[5.1, 3.5, 1.4, 0.2])
        assert predicted.status_code == 200 and predicted.json()["version"] == 1
        picture = client.get(f"/models/iris/versions/1/{kind}.png")
        assert picture.status_code == 409, picture.text
        assert name in picture.json()["detail"] and "version 1" in picture.json()["detail"]
        assert str(iris_config.parent) not in picture.text
        if kind == "pairplot":
            assert client.get("/visualise/pairplot.png").status_code == 409
        assert client.post(f"/models/iris/versions/{second}/promote").status_code == 200
        assert client.post("/models/iris/rollback").status_code == 200  # back onto version 1
