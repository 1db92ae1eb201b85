"""Every way a version reaches production passes the promotion gates; force overrides them (never the
smoke prediction) and every alias move is recorded with who moved it, why and whether it was forced."""

from __future__ import annotations

import pandas as pd
import pytest
from sklearn.datasets import load_iris

import tabserve
from tabserve import promotion
from tabserve.errors import GateRefusedError, NotAcceptedError
from tabserve.predictor import Predictor
from tabserve.registry import PRODUCTION, open_registry
from tabserve.smoke import SmokeTestError
from tabserve.workflow import train_and_register
from tests.support.versions import copy_version, gated_settings, with_worse_version

ONE_CANDIDATE = [{"estimator": "sklearn.linear_model.LogisticRegression", "grid": {"C": [1.0]}}]


def _moves(registry) -> list[tuple]:
    return [
        (m.action, m.previous_version, m.version, m.actor, m.forced, m.reason)
        for m in reversed(registry.history("iris"))
    ]


def test_a_worse_version_is_refused_naming_the_gate_and_force_overrides_it_on_record(tmp_path, trained_iris):
    settings = with_worse_version(trained_iris[0], tmp_path, max_score_drop=0.05)
    with open_registry(settings) as registry:
        before = registry.history("iris")
        with pytest.raises(GateRefusedError) as refused:
            promotion.promote(registry, "iris", 2, actor="cli", reason="try it")
        assert refused.value.gates == ["max_score_drop"] and refused.value.overridable
        message = str(refused.value)
        assert message.startswith("model 'iris' version 2: gate max_score_drop: version 2's hold-out score")
        assert message.endswith(
            "; not promoted (a token holder may override it with force: CLI --force, HTTP ?force=true)"
        )
        assert "0.2500 below production version 1's" in str(refused.value)
        assert registry.metadata.alias_version("iris") == 1
        assert registry.history("iris") == before  # a refusal moves nothing and records nothing

        promotion.promote(registry, "iris", 2, actor="cli", reason="live data says so", force=True)
        assert registry.metadata.alias_version("iris") == 2
        newest = registry.history("iris")[0]
        assert (newest.action, newest.previous_version, newest.version) == ("promote", 1, 2)
        assert (newest.actor, newest.forced) == ("cli", True)
        assert newest.reason.startswith("live data says so (forced past gate max_score_drop: version 2's")


def test_a_rollback_skips_the_score_gate_but_not_the_versions_own_gates(tmp_path, trained_iris):
    settings = with_worse_version(trained_iris[0], tmp_path, max_score_drop=0.05)
    with open_registry(settings) as registry:
        promotion.promote(registry, "iris", 2, force=True)
        assert promotion.rollback(registry, "iris", actor="http", reason="v2 misbehaves") == 1
        assert _moves(registry)[-1] == ("rollback", 2, 1, "http", False, "v2 misbehaves")
        promotion.promote(registry, "iris", 2, force=True)
        registry.gates = registry.gates.model_copy(update={"required_metrics": ["rmse"]})
        with pytest.raises(
            GateRefusedError, match=r"version 1: gate required_metrics: .*; not rolled back to it"
        ):
            promotion.rollback(registry, "iris")
        assert promotion.rollback(registry, "iris", force=True) == 1


def test_force_never_gets_past_the_smoke_prediction_nor_a_config_that_forbids_it(
    tmp_path, trained_iris, monkeypatch
):
    settings = with_worse_version(trained_iris[0], tmp_path, max_score_drop=0.05, allow_force=False)
    with open_registry(settings) as registry:
        with pytest.raises(GateRefusedError, match=r"promotion\.allow_force is off") as refused:
            promotion.promote(registry, "iris", 2, force=True)
        assert not refused.value.overridable
        registry.gates = registry.gates.model_copy(update={"allow_force": True})
        monkeypatch.setattr(Predictor, "predict", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("boom")))
        with pytest.raises(SmokeTestError, match="version 2 cannot predict"):
            promotion.promote(registry, "iris", 2, force=True)
        assert registry.metadata.alias_version("iris") == 1


def test_a_reason_is_one_line_of_at_most_500_characters(tmp_path, trained_iris):
    settings = with_worse_version(trained_iris[0], tmp_path)
    with open_registry(settings) as registry:
        with pytest.raises(NotAcceptedError, match=r"reason: at most 500 characters \(got 501\)"):
            promotion.promote(registry, "iris", 2, reason="x" * 501)
        promotion.promote(registry, "iris", 2, reason="two\nlines\x00")
        assert registry.history("iris")[0].reason == "two lines"


def test_training_does_not_auto_promote_past_a_gate_and_says_why(tmp_path, trained_iris):
    settings = gated_settings(trained_iris[0], tmp_path, min_holdout_rows=1000)
    settings = settings.model_copy(update={"candidates": settings.candidates[:1]})
    outcome = train_and_register(settings)
    assert outcome.version == 2 and not outcome.promoted
    assert "gate min_holdout_rows: version 2 was scored on 15 hold-out rows (required: at least 1000)" in (
        outcome.promotion
    )
    with open_registry(settings) as registry:
        assert registry.metadata.alias_version("iris") == 1


def test_register_stores_a_refused_version_unpromoted_or_raises_when_asked_to_promote(tmp_path, trained_iris):
    settings = gated_settings(trained_iris[0], tmp_path, min_holdout_rows=100)
    with open_registry(settings) as registry:
        model = registry.load_model(registry.get("iris", 1))
        names = [feature["name"] for feature in registry.get("iris", 1).feature_schema["features"]]
    iris = load_iris()
    rows = pd.DataFrame(iris.data, columns=names)
    labels = pd.Series(iris.target_names[iris.target])
    given = {"name": "iris", "X_sample": rows.head(5), "X_test": rows[::15], "y_test": labels[::15]}
    result = tabserve.register(model, **given, registry=settings)
    assert not result.promoted
    assert "gate min_holdout_rows: version 2 was scored on 10 hold-out rows (required: at least 100)" in (
        result.promotion
    )
    with pytest.raises(GateRefusedError, match=r"gate min_holdout_rows: version 3 .*\(version 3 is stored\)"):
        tabserve.register(model, **given, registry=settings, promote=True)
    with open_registry(settings) as registry:
        assert registry.metadata.alias_version("iris") == 1
        assert [r.version for r in registry.versions("iris")] == [1, 2, 3]


def test_the_history_lists_every_move_with_its_actor_and_reason(tmp_path, trained_iris):
    settings = gated_settings(trained_iris[0], tmp_path)
    with open_registry(settings) as registry:
        copy_version(registry)
        copy_version(registry)
        promotion.promote(registry, "iris", 2, actor="http", reason="ship it")
        promotion.promote(registry, "iris", 3)
        promotion.rollback(registry, "iris", reason="3 is slow")
        registry.promote("iris", 3, alias="canary", actor="canary", reason="20%")
        assert registry.metadata.remove_alias("iris", "canary", actor="abort", reason="errors") == 3
        assert registry.metadata.remove_alias("iris", "canary", actor="abort") is None
        assert _moves(registry) == [
            ("promote", None, 1, "train", False, "the model's first version to serve"),
            ("promote", 1, 2, "http", False, "ship it"),
            ("promote", 2, 3, "cli", False, ""),
            ("rollback", 3, 2, "cli", False, "3 is slow"),
            ("promote", None, 3, "canary", False, "20%"),
            ("remove", 3, 3, "abort", False, "errors"),
        ]
        assert registry.metadata.alias_version("iris", "canary") is None
        assert registry.metadata.alias_version("iris", PRODUCTION) == 2
        moves = registry.history("iris")
        assert moves[0].to_dict()["to_version"] is None and moves[1].to_dict()["to_version"] == 3
        assert [m.id for m in registry.history("iris", limit=2, before=moves[1].id)] == [
            m.id for m in moves[2:4]
        ]
