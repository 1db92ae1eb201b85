"""Realised performance: the stored ground truth per version, over time windows, with intervals.

Classification: accuracy with its Wilson score interval and macro F1 over the
labels seen; regression: RMSE and MAE with normal-approximation intervals
(MAE from the absolute errors' standard error, RMSE as the square root of the
squared errors' mean interval). Each figure comes with the number of labelled
rows it is made from, since a handful of labels says little. Windows are fixed
slices of UTC time (an hour starts on the hour) by the prediction's time, so
a figure does not move as feedback for older predictions trickles in.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

import sqlalchemy as sa

from tabserve.errors import NotFoundError
from tabserve.monitoring.prediction_log import SECONDS_PER_DAY, database_errors
from tabserve.registry.feedback_table import feedback
from tabserve.timefmt import iso_utc

Z_95 = 1.959963984540054  # two-sided 95 %


def wilson(successes: int, n: int, z: float = Z_95) -> tuple[float, float]:
    """The Wilson score interval of a proportion (sensible at 0, 1 and small n, unlike the normal one)."""
    if n == 0:
        return (0.0, 1.0)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    return (low, 1.0 if successes == n else min(1.0, centre + half))


def macro_f1(pairs: list[tuple[str, str]]) -> float:
    """Macro-averaged F1 over every label predicted or actual (as scikit-learn's default labels)."""
    true_pos: dict[str, int] = defaultdict(int)
    false_pos: dict[str, int] = defaultdict(int)
    false_neg: dict[str, int] = defaultdict(int)
    for predicted, actual in pairs:
        if predicted == actual:
            true_pos[actual] += 1
        else:
            false_pos[predicted] += 1
            false_neg[actual] += 1
    labels = set(true_pos) | set(false_pos) | set(false_neg)
    scores = [
        2 * true_pos[c] / (2 * true_pos[c] + false_pos[c] + false_neg[c]) if true_pos[c] else 0.0
        for c in labels
    ]
    return sum(scores) / len(scores) if scores else 0.0


def classification_figures(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Labelled rows, accuracy with its Wilson interval, macro F1."""
    n = len(pairs)
    right = sum(1 for predicted, actual in pairs if predicted == actual)
    low, high = wilson(right, n)
    return {
        "rows": n,
        "accuracy": right / n if n else None,
        "accuracy_interval": [low, high] if n else None,
        "macro_f1": macro_f1(pairs) if n else None,
    }


def regression_figures(pairs: list[tuple[float, float]]) -> dict[str, Any]:
    """Labelled rows, RMSE and MAE with 95 % normal-approximation intervals."""
    n = len(pairs)
    if n == 0:
        return {"rows": 0, "rmse": None, "rmse_interval": None, "mae": None, "mae_interval": None}
    absolute = [abs(predicted - actual) for predicted, actual in pairs]
    squared = [e * e for e in absolute]
    mae, mae_half = _mean_and_half_width(absolute)
    mse, mse_half = _mean_and_half_width(squared)
    return {
        "rows": n,
        "rmse": math.sqrt(mse),
        "rmse_interval": [math.sqrt(max(0.0, mse - mse_half)), math.sqrt(mse + mse_half)],
        "mae": mae,
        "mae_interval": [max(0.0, mae - mae_half), mae + mae_half],
    }


def _mean_and_half_width(values: list[float]) -> tuple[float, float]:
    n = len(values)
    mean = sum(values) / n
    if n < 2:
        return mean, math.inf
    variance = sum((v - mean) ** 2 for v in values) / (n - 1)
    return mean, Z_95 * math.sqrt(variance / n)


def figures(rows: list[tuple[Any, ...]]) -> dict[str, Any]:
    """The figures of feedback rows ``(predicted_label, actual_label, predicted_value, actual_value)``."""
    labels = [(r[0], r[1]) for r in rows if r[0] is not None and r[1] is not None]
    if labels or not rows:
        return classification_figures(labels)
    return regression_figures([(r[2], r[3]) for r in rows if r[2] is not None and r[3] is not None])


def read_feedback(metadata: Any, model: str, since: float) -> list[tuple[Any, ...]]:
    """Stored feedback of ``model`` for predictions made since ``since``:
    ``(version, predicted_at, predicted_label, actual_label, predicted_value, actual_value)``."""
    columns = feedback.c
    query = (
        sa.select(
            columns.version,
            columns.predicted_at,
            columns.predicted_label,
            columns.actual_label,
            columns.predicted_value,
            columns.actual_value,
        )
        .where(columns.model == model, columns.predicted_at >= since)
        .order_by(columns.predicted_at)
    )
    with database_errors(metadata.safe_url):
        metadata.ensure_schema()
        with metadata.engine.connect() as conn:
            return [tuple(row) for row in conn.execute(query)]


def performance(
    rows: Iterable[tuple[Any, ...]], window_s: float, holdout: Callable[[int], dict[str, Any]]
) -> list[dict[str, Any]]:
    """Per version (newest first): the hold-out figures, the figures over every row, and per window."""
    by_version: dict[int, dict[float, list[tuple[Any, ...]]]] = defaultdict(lambda: defaultdict(list))
    for version, at, *pair in rows:
        by_version[int(version)][math.floor(at / window_s) * window_s].append(tuple(pair))
    answer = []
    for version in sorted(by_version, reverse=True):
        windows = by_version[version]
        every = [pair for start in windows for pair in windows[start]]
        answer.append(
            {
                "version": version,
                "holdout": holdout(version),
                "overall": figures(every),
                "windows": [
                    {"start": iso_utc(start), "end": iso_utc(start + window_s), **figures(windows[start])}
                    for start in sorted(windows)
                ],
            }
        )
    return answer


HOLDOUT_KEYS = ("accuracy", "f1_macro", "rmse", "mae")


def model_report(
    registry: Any, model: str, window: str, window_s: float, days: float, now: float
) -> dict[str, Any]:
    """Realised performance of ``model``'s versions over the last ``days``, in windows of ``window_s``,
    each version beside its hold-out figures."""
    since = now - days * SECONDS_PER_DAY
    rows = read_feedback(registry.metadata, model, since)

    def holdout(version: int) -> dict[str, Any]:
        try:
            metrics = registry.get(model, version).metrics
        except NotFoundError:
            return {}
        return {key: metrics[key] for key in HOLDOUT_KEYS if isinstance(metrics.get(key), int | float)}

    return {
        "model": model,
        "window": window,
        "window_s": window_s,
        "since": iso_utc(since),
        "versions": performance(rows, window_s, holdout),
    }
