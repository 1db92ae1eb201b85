"""A version's reference profile: what its training rows and hold-out predictions looked like.

Built once at training time and stored with the version (``profile.json``), so
a server can tell whether today's rows look like the ones the model learnt
from without keeping the training data. Per numeric feature: decile bin edges,
the share of rows in each bin (missing values as one more bin) and the range;
per categorical feature: the share of each category and of missing values.
The class mix is that of the hold-out predictions, the fairest guess of what
the model will answer on rows like the training data; a regressor keeps the
bins of its hold-out predicted values instead (``values``), with decile edges
like a numeric feature's. A regressor given no hold-out rows has none, and its
prediction drift is then not available.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from tabserve.monitoring.bins import category_bins, numeric_bins
from tabserve.schema import FeatureSchema

FORMAT = 1
QUANTILES = np.linspace(0.1, 0.9, 9)  # nine inner edges: ten bins where the data allows


def _shares(counts: np.ndarray) -> list[float]:
    total = counts.sum()
    return (counts / total).tolist() if total else [0.0] * len(counts)


def numeric_profile(values: np.ndarray) -> dict[str, Any]:
    """Decile edges of ``values``, the share of them in each bin (missing last) and their range."""
    present = values[~np.isnan(values)]
    edges = np.unique(np.quantile(present, QUANTILES)) if len(present) else np.array([])
    counts = np.bincount(numeric_bins(values, edges), minlength=len(edges) + 2)
    return {
        "type": "numeric",
        "edges": edges.tolist(),
        "reference": _shares(counts),
        "min": float(present.min()) if len(present) else None,
        "max": float(present.max()) if len(present) else None,
    }


def build_profile(
    frame: pd.DataFrame, schema: FeatureSchema, holdout_labels: Any, holdout_values: Any = None
) -> dict[str, Any]:
    """The profile of training rows ``frame`` (coerced to the schema) and the hold-out's predicted labels,
    or for a regressor its predicted ``holdout_values`` (None: no hold-out, no prediction reference)."""
    features: dict[str, dict[str, Any]] = {}
    for feature in schema.features:
        column = frame[feature.name]
        if feature.type == "numeric":
            features[feature.name] = numeric_profile(column.to_numpy(dtype=np.float64))
        else:
            categories = list(feature.categories or [])
            counts = np.bincount(category_bins(column.tolist(), categories), minlength=len(categories) + 2)
            features[feature.name] = {
                "type": "categorical",
                "categories": categories,
                "reference": _shares(counts),
            }
    labels = [str(v) for v in holdout_labels]
    class_counts = np.array([labels.count(c) for c in schema.classes], dtype=np.int64)
    profile = {
        "format": FORMAT,
        "rows": len(frame),
        "features": features,
        "classes": list(schema.classes),
        "class_mix": _shares(class_counts),
        "holdout_rows": len(labels),
    }
    if holdout_values is not None:
        values = np.asarray(holdout_values, dtype=np.float64).reshape(-1)
        profile["values"] = numeric_profile(values)
        profile["holdout_rows"] = len(values)
    return profile
