"""Each promotion gate refuses with its name and the figures, and passes what it should."""

from __future__ import annotations

from typing import Any

import pytest

from tabserve.config import load_settings
from tabserve.config_promotion import PromotionSettings
from tabserve.errors import ConfigError
from tabserve.gates import refusals
from tabserve.registry import VersionRecord


def _version(version: int, **metrics: Any) -> VersionRecord:
    return VersionRecord(
        model="iris",
        version=version,
        created_at=0.0,
        estimator="sklearn.linear_model.LogisticRegression",
        params={},
        metrics={"scoring": "accuracy", **metrics},
        cv_results=[],
        feature_schema={},
        data_rows=150,
        data_hash="h",
        libraries={},
        config={},
        artifacts={},
        sha256="s",
    )


PRODUCTION = _version(1, holdout_score=0.95, accuracy=0.95, holdout_rows=30)


def test_no_gate_is_on_by_default():
    assert refusals(PromotionSettings(), _version(2, holdout_score=0.1), PRODUCTION) == []


def test_a_score_drop_beyond_the_allowance_is_refused_with_the_figures():
    rules = PromotionSettings(max_score_drop=0.05)
    assert refusals(rules, _version(2, holdout_score=0.91), PRODUCTION) == []
    (refusal,) = refusals(rules, _version(2, holdout_score=0.70), PRODUCTION)
    assert refusal.gate == "max_score_drop"
    assert str(refusal) == (
        "gate max_score_drop: version 2's hold-out score 0.7000 (accuracy) is 0.2500 below "
        "production version 1's 0.9500 (allowed: 0.05)"
    )


def test_the_score_gate_needs_comparable_scores():
    rules = PromotionSettings(max_score_drop=0.0)
    (missing,) = refusals(rules, _version(2), PRODUCTION)
    assert "version 2 has no hold-out score to compare with production version 1's 0.9500" in missing.message
    other = _version(2, holdout_score=0.99, scoring="f1_macro")
    (unlike,) = refusals(rules, other, PRODUCTION)
    assert "scored by f1_macro, production version 1 by accuracy" in unlike.message
    assert refusals(rules, _version(2, holdout_score=0.1), None) == []  # no production: nothing to drop from
    assert refusals(rules, _version(2, holdout_score=0.1), PRODUCTION, rollback=True) == []


def test_required_metrics_and_holdout_rows_name_what_is_missing():
    rules = PromotionSettings(required_metrics=["accuracy", "f1_macro"], min_holdout_rows=20)
    found = refusals(rules, _version(2, accuracy=0.9, holdout_rows=12), PRODUCTION)
    assert [str(r) for r in found] == [
        "gate required_metrics: version 2 records no f1_macro (required: accuracy, f1_macro)",
        "gate min_holdout_rows: version 2 was scored on 12 hold-out rows (required: at least 20)",
    ]
    (no_rows,) = refusals(PromotionSettings(min_holdout_rows=1), _version(2), None, rollback=True)
    assert no_rows.message == "version 2 records no hold-out rows (required: at least 1)"


def test_the_section_is_validated_and_read_from_the_environment():
    settings = load_settings(
        environ={
            "TABSERVE_PROMOTION__MAX_SCORE_DROP": "0.02",
            "TABSERVE_PROMOTION__REQUIRED_METRICS": "[rmse]",
        }
    )
    assert settings.promotion.max_score_drop == 0.02
    assert settings.promotion.required_metrics == ["rmse"]
    with pytest.raises(
        ConfigError, match=r"env TABSERVE_PROMOTION__MAX_SCORE_DROP: promotion.max_score_drop"
    ):
        load_settings(environ={"TABSERVE_PROMOTION__MAX_SCORE_DROP": "-1"})
    with pytest.raises(ConfigError, match=r"promotion\.min_holdout_rowz: unknown key"):
        load_settings(environ={}, overrides={"promotion": {"min_holdout_rowz": 3}})
    with pytest.raises(ConfigError, match="is not a metric name"):
        load_settings(environ={}, overrides={"promotion": {"required_metrics": ["a b"]}})
