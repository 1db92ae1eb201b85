"""The console's pure parts: formatting, comparison, CV tables, charts and the training form's parsing."""

from __future__ import annotations

import dataclasses

import pytest

from tabserve.registry import VersionRecord
from tabserve.service.console import charts, fmt, views
from tabserve.service.console.train_form import FormError, field_of, overrides_from_form


def record(version: int, **changes) -> VersionRecord:
    base = VersionRecord(
        model="iris",
        version=version,
        created_at=1_700_000_000.0,
        estimator="sklearn.linear_model.LogisticRegression",
        params={"C": 1.0},
        metrics={
            "cv_score": 0.96,
            "holdout_score": 0.9,
            "accuracy": 0.9,
            "f1_macro": 0.89,
            "scoring": "accuracy",
            "per_class": {"a": {"precision": 1.0, "recall": 0.8, "support": 5}},
            "confusion_matrix": {"labels": ["a", "b"], "matrix": [[4, 1], [0, 5]]},
        },
        cv_results=[
            {
                "estimator": "sklearn.tree.DecisionTreeClassifier",
                "params": {"max_depth": 2},
                "mean_test_score": 0.9,
                "std_test_score": 0.01,
                "rank_test_score": 2,
                "mean_fit_time": 0.01,
            },
            {
                "estimator": "sklearn.linear_model.LogisticRegression",
                "params": {"C": 1.0},
                "mean_test_score": 0.96,
                "std_test_score": 0.02,
                "rank_test_score": 1,
                "mean_fit_time": 0.02,
            },
        ],
        feature_schema={"features": [], "target": "y", "classes": ["a", "b"]},
        data_rows=150,
        data_hash="ab" * 32,
        libraries={},
        config={},
        artifacts={"model": {"key": "k", "sha256": "0" * 64}},
        sha256="0" * 64,
        aliases=[],
    )
    return dataclasses.replace(base, **changes)


def test_times_read_as_a_person_says_them():
    assert fmt.iso(0) == "1970-01-01T00:00:00Z"
    assert fmt.ago(1000, now=1000.5) == "just now"
    assert fmt.ago(1000, now=1000 + 185) == "3 min ago"
    assert fmt.ago(0, now=2 * 86400 + 5) == "2 days ago"
    assert fmt.duration(10, 75, now=0) == "1 min 5 s"
    assert fmt.duration(10, None, now=22) == "12 s"


def test_numbers_and_differences():
    assert fmt.num(0.123456) == "0.1235"
    assert fmt.num(150) == "150"
    assert fmt.num(None) == fmt.DASH
    assert fmt.num(float("nan")) == fmt.DASH
    assert fmt.signed(0.02) == "+0.0200"
    assert fmt.signed(-0.02) == "\u22120.0200"
    assert fmt.signed(0.00001) == "0"
    assert fmt.percent(3, 4) == 75
    assert fmt.percent(3, 0) == 0


def test_estimator_and_params_are_short():
    assert fmt.short_estimator("sklearn.tree.DecisionTreeClassifier") == "DecisionTreeClassifier"
    assert fmt.params_text({"max_depth": None, "criterion": "gini"}) == "max_depth=null, criterion=gini"
    assert fmt.params_text({}) == "defaults"


def test_compare_gives_b_minus_a_and_the_changed_params():
    a = record(1)
    b = record(2, params={"C": 0.5, "penalty": "l2"}, metrics={**a.metrics, "accuracy": 0.95})
    result = views.compare(a, b)
    accuracy = next(m for m in result["metrics"] if m["name"] == "Hold-out accuracy")
    assert accuracy["diff"] == pytest.approx(0.05)
    params = {p["name"]: p for p in result["params"]}
    assert params["C"]["changed"] and params["C"]["a"] == 1.0 and params["C"]["b"] == 0.5
    assert params["penalty"]["a"] == "(not set)"
    assert result["same_data"]
    assert result["per_class"][0]["recall_diff"] == 0


def test_cv_table_is_ranked_and_readable():
    table = views.cv_table(record(1).cv_results)
    assert [r["rank"] for r in table["rows"]] == [1, 2]
    assert table["rows"][0]["estimator"] == "LogisticRegression"
    assert table["rows"][1]["params"] == "max_depth=2"


def test_serving_path_says_which_engine_and_why():
    compiled = record(1, artifacts={"model": {}, "compiled": {}}, metrics={"serving": "compiled X"})
    assert views.serving_path(compiled)["engine"].startswith("ONNX Runtime")
    plain = record(1, metrics={"serving": "categorical features are served by scikit-learn"})
    assert views.serving_path(plain) == {
        "engine": "scikit-learn",
        "why": "categorical features are served by scikit-learn",
    }


def test_charts_escape_labels_from_data():
    svg = charts.confusion_matrix(["<script>x</script>", "b"], [[1, 0], [0, 1]], "t <b>")
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert "t &lt;b&gt;" in svg
    line = charts.metric_line([(1, 0.9), (2, None), (3, 0.95)], "CV <i>")
    assert "<i>" not in line and "v3 0.9500" in line and "v2" not in line.split("</title>")[1]
    assert "No CV" in charts.metric_line([], "CV")


def test_training_form_becomes_overrides():
    form = {
        "cv": "4",
        "scoring": "f1_macro",
        "split_kind": "test_fraction",
        "split_value": "0.2",
        "candidates": "- estimator: sklearn.linear_model.LogisticRegression\n  grid: {C: [1.0]}\n",
    }
    assert overrides_from_form(form) == {
        "search": {"cv": 4, "scoring": "f1_macro"},
        "split": {"test_fraction": 0.2},
        "candidates": [{"estimator": "sklearn.linear_model.LogisticRegression", "grid": {"C": [1.0]}}],
    }
    assert overrides_from_form({"cv": "", "candidates": "  "}) == {}


@pytest.mark.parametrize(
    ("form", "field"),
    [
        ({"cv": "three"}, "cv"),
        ({"split_kind": "test_fraction"}, "split"),
        ({"split_value": "3"}, "split"),
        ({"split_kind": "sideways", "split_value": "1"}, "split"),
        ({"candidates": "[unclosed"}, "candidates"),
        ({"candidates": "estimator: x"}, "candidates"),
        ({"secret": "1"}, "form"),
        ({"cv": 3}, "form"),
    ],
)
def test_bad_form_fields_name_their_field(form, field):
    with pytest.raises(FormError) as caught:
        overrides_from_form(form)
    assert caught.value.field == field


def test_config_errors_are_placed_by_key_path():
    assert field_of("request body: search.cv: Input should be greater than or equal to 2") == "cv"
    assert field_of("request body: candidates.0.estimator: 'os.system' is not allowed") == "candidates"
    assert field_of("request body: split: give exactly one of ...") == "split"
    assert field_of("something else") == "form"


def test_the_data_summary_cache_keeps_each_sources_own_summary():
    """Two models' data pages within a minute each show their own data (and a regression target its
    histogram), not the summary the other page read first."""
    from pathlib import Path

    from tabserve.config import DataSettings
    from tabserve.service.console.summary import SummaryCache

    houses = Path(__file__).resolve().parents[3] / "examples" / "houses.csv"
    cache = SummaryCache()
    iris = cache.get(DataSettings())
    prices = cache.get(DataSettings(source="csv", path=str(houses), target="price"))
    assert (iris.rows, iris.target, iris.target_bins) == (150, "species", None)
    assert (prices.rows, prices.target) == (400, "price")
    assert sum(rows for _, _, rows in prices.target_bins) == 400 and len(prices.target_bins) == 20
    assert cache.get(DataSettings()) is iris  # within the minute: read once
