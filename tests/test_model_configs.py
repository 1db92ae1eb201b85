"""Each served model trains on its own config; training never changes a model's schema unasked."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from sklearn.datasets import load_iris

from tabserve.errors import ConfigError, ConflictError, NotAcceptedError
from tabserve.model_configs import check_model_configs, require_training_settings, training_settings
from tabserve.schema import Feature, FeatureSchema, schema_changes
from tabserve.workflow import train_and_register
from tests.support.settings import make_settings

QUICK = [{"estimator": "sklearn.linear_model.LogisticRegression", "grid": {"C": [1.0]}}]


def _wine_config(folder: Path, **extra: object) -> Path:
    frame = load_iris(as_frame=True).frame.rename(columns={"target": "quality"})
    frame.iloc[:, :3].assign(quality=frame["quality"].map({0: "low", 1: "mid", 2: "high"})).to_csv(
        folder / "wine.csv", index=False
    )
    config = {
        "data": {"source": "csv", "path": "wine.csv", "target": "quality"},
        "split": {"test_per_class": 3},
        "candidates": QUICK,
        "registry": {"url": "sqlite:////elsewhere/other.db"},  # the server's registry wins
        **extra,
    }
    path = folder / "wine.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_a_served_model_trains_on_its_own_file_and_the_servers_registry(tmp_path):
    path = _wine_config(tmp_path)
    settings = make_settings(
        tmp_path, server={"models": ["iris", "wine"], "model_configs": {"wine": str(path)}}
    )
    wine = training_settings(settings, "wine")
    assert wine is not None
    assert wine.model == "wine"
    assert wine.data.source == "csv" and wine.data.path == str(tmp_path / "wine.csv")
    assert wine.data.target == "quality"
    assert wine.registry == settings.registry
    assert training_settings(settings, "iris") is settings


def test_a_model_config_cannot_loosen_the_servers_promotion_gates(tmp_path):
    path = _wine_config(tmp_path, promotion={"max_score_drop": 1.0, "allow_force": True})
    settings = make_settings(
        tmp_path,
        server={"models": ["iris", "wine"], "model_configs": {"wine": str(path)}},
        promotion={"max_score_drop": 0.0, "allow_force": False},
    )
    wine = training_settings(settings, "wine")
    assert wine is not None and wine.promotion == settings.promotion


def test_a_served_model_without_a_config_cannot_be_trained_here(tmp_path):
    settings = make_settings(tmp_path, server={"models": ["iris", "wine"]})
    assert training_settings(settings, "wine") is None
    with pytest.raises(NotAcceptedError, match=r"model 'wine' has no training config.*server.model_configs"):
        require_training_settings(settings, "wine")


def test_model_configs_are_checked_at_start(tmp_path):
    path = _wine_config(tmp_path, model="merlot")
    mismatched = make_settings(
        tmp_path, server={"models": ["iris", "wine"], "model_configs": {"wine": str(path)}}
    )
    with pytest.raises(ConfigError, match=r"model: 'merlot'.*for 'wine'"):
        check_model_configs(mismatched)
    unserved = make_settings(tmp_path, server={"model_configs": {"wine": str(path)}})
    with pytest.raises(ConfigError, match=r"server\.model_configs: 'wine' is not a served model"):
        check_model_configs(unserved)


def test_relative_model_config_paths_resolve_against_the_config_file(tmp_path):
    from tabserve.config import load_settings

    _wine_config(tmp_path)
    main = tmp_path / "tabserve.yaml"
    main.write_text(
        yaml.safe_dump({"server": {"models": ["iris", "wine"], "model_configs": {"wine": "wine.yaml"}}})
    )
    settings = load_settings(main, environ={})
    assert settings.server.model_configs["wine"] == str(tmp_path / "wine.yaml")


def test_schema_changes_are_named():
    old = FeatureSchema([Feature("a", "numeric"), Feature("b", "numeric")], "y", ["x", "z"])
    new = FeatureSchema([Feature("a", "categorical"), Feature("c", "numeric")], "y", ["x", "z", "w"])
    assert schema_changes(old, new) == [
        "drops column(s) b",
        "adds column(s) c",
        "changes the type of a",
        "answers other classes (3, was 2)",
    ]
    assert schema_changes(old, old) == []


def test_training_on_another_table_is_refused_unless_allowed(tmp_path, trained_iris):
    from tests.support.servers import copy_registry

    registry = copy_registry(trained_iris[0], tmp_path / "registry")
    _wine_config(tmp_path)
    other_table = {"source": "csv", "path": str(tmp_path / "wine.csv"), "target": "quality"}
    settings = make_settings(
        tmp_path, registry=registry, data=other_table, split={"test_per_class": 3}, candidates=QUICK
    )
    with pytest.raises(
        ConflictError,
        match=r"model 'iris'.*drops column\(s\) sepal_length.*predicts 'quality' instead of 'species'"
        r".*allow_schema_change",
    ):
        train_and_register(settings)
    from tabserve.registry import open_registry

    with open_registry(settings) as opened:
        assert [r.version for r in opened.versions("iris")] == [1]  # nothing registered
    allowed = make_settings(
        tmp_path,
        registry={**registry, "allow_schema_change": True},
        data=other_table,
        split={"test_per_class": 3},
        candidates=QUICK,
    )
    assert train_and_register(allowed).version == 2
