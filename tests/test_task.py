"""task: auto | classification | regression, decided from the target and kept with the version."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tabserve.config import load_settings
from tabserve.errors import ConfigError
from tabserve.registry.records import VersionRecord
from tabserve.task import CLASSIFICATION, REGRESSION, infer_task, resolve_task


def _series(values, name="y"):
    return pd.Series(values, name=name)


@pytest.mark.parametrize(
    ("values", "task"),
    [
        (["a", "b", "a", "c"] * 10, CLASSIFICATION),
        ([True, False] * 20, CLASSIFICATION),
        (pd.Categorical(["x", "y"] * 20), CLASSIFICATION),
        (np.linspace(0.5, 10.5, 40), REGRESSION),
        ([0, 1] * 20, CLASSIFICATION),  # a 0/1 flag, whatever the row count
        ([1, 2, 3] * 40, CLASSIFICATION),  # 3 values in 120 rows: 2.5 %
        (list(range(100)) * 2, REGRESSION),  # 100 distinct integers: counts, not labels
        (list(range(10)) * 10, REGRESSION),  # 10 values in 100 rows: 10 % of the rows
        (list(range(21)) * 100, REGRESSION),  # more than 20 values even in a big table
    ],
)
def test_auto_rule(values, task):
    choice = infer_task(_series(values))
    assert choice.task == task
    assert choice.reason.startswith("auto: target 'y'")


def test_reason_names_no_cell_values():
    choice = infer_task(_series(["secret-label", "other"] * 5))
    assert "secret-label" not in choice.reason


def test_explicit_task_wins_over_auto():
    floats = _series(np.linspace(0, 1, 50))
    assert resolve_task("classification", floats).task == CLASSIFICATION
    integers = _series([1, 2, 3] * 40)
    assert resolve_task("regression", integers).task == REGRESSION
    assert resolve_task("regression", integers).reason == "configured: task: regression"


@pytest.mark.parametrize("values", [["a", "b"] * 5, [True, False] * 5])
def test_regression_on_labels_is_a_config_error_naming_task(values):
    with pytest.raises(ConfigError, match=r"^task: regression needs a numeric target"):
        resolve_task("regression", _series(values))


def test_config_key_defaults_to_auto_and_checks_its_value():
    assert load_settings(environ={}).task == "auto"
    assert load_settings(
        environ={"TABSERVE_TASK": "regression"}, overrides={"split": {"test_fraction": 0.2}}
    ).task == ("regression")
    with pytest.raises(ConfigError, match="task"):
        load_settings(environ={}, overrides={"task": "clustering"})


def test_regression_with_test_per_class_is_a_config_error():
    with pytest.raises(ConfigError, match=r"split.test_per_class: .* use split.test_fraction"):
        load_settings(environ={}, overrides={"task": "regression", "split": {"test_per_class": 3}})


def test_versions_without_task_read_as_classification():
    record = VersionRecord(
        model="m",
        version=1,
        created_at=0.0,
        estimator="e",
        params={},
        metrics={},
        cv_results=[],
        feature_schema={"features": [], "target": "y", "classes": ["a", "b"]},
        data_rows=1,
        data_hash="h",
        libraries={},
        config={},
        artifacts={},
        sha256="",
    )
    assert record.task == "classification"
    assert record.summary()["task"] == "classification"
    from tabserve.schema import FeatureSchema

    assert FeatureSchema.from_dict(record.feature_schema).task == "classification"
