"""What each console page shows, worked out from registry records (no I/O, no HTML).

Kept apart from the routes so the comparison and table logic is tested
without a server, and so another view (a drift page, say) can be added beside
these without touching them.
"""

from __future__ import annotations

from typing import Any

from tabserve.registry import PRODUCTION, VersionRecord
from tabserve.service.console import fmt

# (key, heading) of the metrics compared side by side: the scores (higher is better), then the task's own.
COMPARED_METRICS = (
    ("cv_score", "CV score"),
    ("holdout_score", "Hold-out score"),
    ("accuracy", "Hold-out accuracy"),
    ("f1_macro", "Macro F1"),
)
COMPARED_REGRESSION_METRICS = (
    ("cv_score", "CV score"),
    ("holdout_score", "Hold-out score"),
    ("rmse", "Hold-out RMSE (lower is better)"),
    ("mae", "Hold-out MAE (lower is better)"),
    ("r2", "Hold-out R²"),
)


def summary_of(record: VersionRecord) -> dict[str, Any]:
    """A full record cut to what ``MetadataStore.version_summaries`` gives for each version."""
    return {
        "version": record.version,
        "created_at": record.created_at,
        "estimator": record.estimator,
        "params": record.params,
        "metrics": record.metrics,
        "data_rows": record.data_rows,
        "data_hash": record.data_hash,
        "aliases": list(record.aliases),
    }


def version_row(summary: dict[str, Any]) -> dict[str, Any]:
    """One line of a model's version table, from a version summary."""
    metrics = summary["metrics"]
    return {
        "version": summary["version"],
        "created_at": summary["created_at"],
        "estimator": fmt.short_estimator(summary["estimator"]),
        "estimator_full": summary["estimator"],
        "params": fmt.params_text(summary["params"]),
        "cv_score": metrics.get("cv_score"),
        "scoring": metrics.get("scoring", "score"),
        "task": metrics.get("task") or "classification",
        "accuracy": metrics.get("accuracy"),
        "f1_macro": metrics.get("f1_macro"),
        "rmse": metrics.get("rmse"),
        "mae": metrics.get("mae"),
        "r2": metrics.get("r2"),
        "data_rows": summary["data_rows"],
        "data_hash": summary["data_hash"],
        "aliases": list(summary["aliases"]),
        "production": PRODUCTION in summary["aliases"],
    }


def serving_path(record: VersionRecord) -> dict[str, str]:
    """Which engine answers this version's predictions, and why (from what training recorded)."""
    reason = str(record.metrics.get("serving") or "")
    if "compiled" in record.artifacts:
        return {
            "engine": "ONNX Runtime (numeric rows: pure-Python row path when one row comes alone)",
            "why": reason or "the pipeline compiled and matched scikit-learn within 1e-6",
        }
    return {"engine": "scikit-learn", "why": reason or "no compiled model was stored"}


def _diff(a: Any, b: Any) -> float | None:
    if isinstance(a, int | float) and isinstance(b, int | float):
        return b - a
    return None


def params_diff(a: dict[str, Any], b: dict[str, Any]) -> list[dict[str, Any]]:
    """Every parameter either version has, with both values and whether they differ."""
    rows = []
    for key in sorted(set(a) | set(b)):
        left, right = a.get(key, "(not set)"), b.get(key, "(not set)")
        rows.append({"name": key, "a": left, "b": right, "changed": left != right})
    return rows


def compare(a: VersionRecord, b: VersionRecord) -> dict[str, Any]:
    """Two versions side by side: metrics with differences (b - a), params, per-class scores."""
    metrics = [
        {
            "name": heading,
            "a": a.metrics.get(key),
            "b": b.metrics.get(key),
            "diff": _diff(a.metrics.get(key), b.metrics.get(key)),
        }
        for key, heading in (
            COMPARED_REGRESSION_METRICS if a.is_regression or b.is_regression else COMPARED_METRICS
        )
    ]
    metrics.append(
        {"name": "Data rows", "a": a.data_rows, "b": b.data_rows, "diff": _diff(a.data_rows, b.data_rows)}
    )
    classes = list(dict.fromkeys([*(a.metrics.get("per_class") or {}), *(b.metrics.get("per_class") or {})]))
    per_class = []
    for label in classes:
        pa = (a.metrics.get("per_class") or {}).get(label, {})
        pb = (b.metrics.get("per_class") or {}).get(label, {})
        per_class.append(
            {
                "label": label,
                "precision_a": pa.get("precision"),
                "precision_b": pb.get("precision"),
                "precision_diff": _diff(pa.get("precision"), pb.get("precision")),
                "recall_a": pa.get("recall"),
                "recall_b": pb.get("recall"),
                "recall_diff": _diff(pa.get("recall"), pb.get("recall")),
            }
        )
    return {
        "metrics": metrics,
        "estimators": (a.estimator, b.estimator),
        "params": params_diff(a.params, b.params),
        "per_class": per_class,
        "same_data": a.data_hash == b.data_hash,
    }


def cv_table(cv_results: list[dict[str, Any]], limit: int = 50) -> dict[str, Any]:
    """The grid search's CV table, best rank first, with the columns a person reads."""
    rows = sorted(cv_results, key=lambda r: (r.get("rank_test_score", 10**9), str(r.get("params"))))
    shown = []
    for row in rows[:limit]:
        params = row.get("params")
        shown.append(
            {
                "rank": row.get("rank_test_score"),
                "estimator": fmt.short_estimator(str(row.get("estimator") or "")),
                "params": fmt.params_text(params if isinstance(params, dict) else {}),
                "mean": row.get("mean_test_score"),
                "std": row.get("std_test_score"),
                "fit_time": row.get("mean_fit_time"),
            }
        )
    return {"rows": shown, "total": len(rows)}
