"""The console's version table (server-side sort and paging) and drift view, without a server."""

from __future__ import annotations

import pytest

from tabserve.service.console import drift
from tabserve.service.console.version_table import page_of, sort_rows


def rows(count: int) -> list[dict]:
    return [
        {
            "version": v,
            "created_at": 1_700_000_000.0 + v,
            "estimator": "LogisticRegression" if v % 2 else "SVC",
            "params": f"C={v}",
            "cv_score": None if v == 3 else 0.9 + (v % 7) / 100,
            "accuracy": 0.9,
            "f1_macro": 0.8,
            "data_rows": 150,
            "data_hash": f"{v:064x}",
            "aliases": ["production"] if v == 2 else [],
        }
        for v in range(1, count + 1)
    ]


def test_sorting_covers_every_row_and_puts_missing_values_last_both_ways():
    table = rows(120)
    up = sort_rows(table, "cv_score", "asc")
    down = sort_rows(table, "cv_score", "desc")
    assert len(up) == len(down) == 120
    assert up[-1]["version"] == down[-1]["version"] == 3  # no CV score: last either way
    scores = [r["cv_score"] for r in up[:-1]]
    assert scores == sorted(scores) and [r["cv_score"] for r in down[:-1]] == sorted(scores, reverse=True)
    tied = [r["version"] for r in down if r["cv_score"] == down[0]["cv_score"]]
    assert tied == sorted(tied, reverse=True)  # ties: newest first
    assert [r["version"] for r in sort_rows(table, "version", "asc")][:3] == [1, 2, 3]
    assert sort_rows(table, "aliases", "desc")[0]["version"] == 2
    assert {r["estimator"] for r in sort_rows(table, "estimator", "asc")[:60]} == {"LogisticRegression"}


def test_pages_cut_the_sorted_rows_and_clamp_out_of_range_pages():
    table = sort_rows(rows(120), "version", "desc")
    first, pager = page_of(table, 1)
    assert [r["version"] for r in first][:2] == [120, 119] and len(first) == 50
    assert (pager.page, pager.pages, pager.first, pager.last, pager.total) == (1, 3, 1, 50, 120)
    last, pager = page_of(table, 3)
    assert [r["version"] for r in last] == list(range(20, 0, -1))
    assert (pager.first, pager.last) == (101, 120)
    assert page_of(table, 99)[1].page == 3
    empty, pager = page_of([], 1)
    assert empty == [] and (pager.pages, pager.first, pager.last) == (1, 0, 0)


@pytest.mark.parametrize(
    ("psi", "level"),
    [(None, "none"), (float("nan"), "none"), (0.05, "stable"), (0.15, "watch"), (0.21, "drifted")],
)
def test_psi_levels_follow_the_usual_thresholds(psi, level):
    assert drift.psi_level(psi) == level


def test_feature_rows_put_the_most_drifted_first_with_capped_bars():
    report = {
        "features": {
            "a": {"type": "numeric", "psi": 0.02, "missing_share": 0.0, "out_of_range_share": 0.0},
            "<b>": {"type": "categorical", "psi": 1.7, "missing_share": 0.1, "unseen_share": 0.25},
            "c": {"type": "numeric", "psi": None, "missing_share": None, "out_of_range_share": None},
            "d": {"type": "numeric", "psi": 0.12, "missing_share": 0.0, "out_of_range_share": 0.01},
        },
        "predictions": {"live": {"x": 0.7, "y": 0.3}, "reference": {"x": 0.5, "y": 0.5}},
    }
    found = drift.feature_rows(report)
    assert [r["name"] for r in found] == ["<b>", "d", "a", "c"]
    assert [r["level"] for r in found] == ["drifted", "watch", "stable", "none"]
    assert found[0]["bar"] == drift.PSI_SCALE and found[0]["unseen"] == 0.25
    assert drift.class_rows(report) == [
        {"label": "x", "live": 0.7, "reference": 0.5},
        {"label": "y", "live": 0.3, "reference": 0.5},
    ]
    assert drift.share_text(0.25) == "25.0 %" and drift.share_text(None) == "\u2013"


def test_shadow_pairs_draw_the_confusion_with_labels_escaped():
    pair = {
        "production_version": 1,
        "shadow_version": 2,
        "rows": 10,
        "agreement": 0.9,
        "confusion": {"labels": ["<i>", "b"], "rows_production_columns_shadow": [[5, 1], [0, 4]]},
    }
    (shown,) = drift.shadow_pairs({"pairs": [pair]})
    assert "&lt;i&gt;" in shown["matrix"] and "<i>" not in shown["matrix"]
    assert shown["agreement"] == 0.9
