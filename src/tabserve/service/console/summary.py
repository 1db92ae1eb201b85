"""Per-feature summary of the training data the server's config names, cached by content hash.

The server reads only the data its own config names (never a source chosen by
a request); the page says whether that data is the data a version was trained
on by comparing content hashes.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass
from typing import Any

from tabserve.config import DataSettings

log = logging.getLogger(__name__)

RECHECK_AFTER_S = 60.0  # reading a big SQL table takes seconds: at most once a minute per process
TOP_CATEGORIES = 5
HISTOGRAM_BINS = 20


@dataclass(frozen=True)
class DataSummary:
    data_hash: str
    rows: int
    target: str
    classes: dict[str, int]
    features: list[dict[str, Any]]
    target_bins: list[tuple[float, float, int]] | None = None  # a numeric target: (low, high, rows)


def target_histogram(target: Any, bins: int = HISTOGRAM_BINS) -> list[tuple[float, float, int]] | None:
    """Rows per equal-width range of a numeric target (a regression target's distribution); None for
    a target that is not numbers."""
    import numpy as np
    import pandas as pd

    if not pd.api.types.is_numeric_dtype(target) or pd.api.types.is_bool_dtype(target):
        return None
    values = target.to_numpy(dtype=np.float64)
    values = values[np.isfinite(values)]
    if not len(values):
        return []
    counts, edges = np.histogram(values, bins=bins if values.min() < values.max() else 1)
    return [(float(low), float(high), int(n)) for low, high, n in zip(edges, edges[1:], counts, strict=False)]


def _finite(value: Any) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def summarise(frame: Any, target: str, features: list[str]) -> list[dict[str, Any]]:
    """Count, missing, and mean/std/min/max (numbers) or the most frequent categories (the rest)."""
    import pandas as pd

    out = []
    for name in features:
        column = frame[name]
        item: dict[str, Any] = {
            "name": name,
            "count": int(column.notna().sum()),
            "missing": int(column.isna().sum()),
        }
        if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
            values = column.dropna()
            item["kind"] = "numeric"
            item["mean"] = _finite(values.mean()) if len(values) else None
            item["std"] = _finite(values.std()) if len(values) > 1 else None
            item["min"] = _finite(values.min()) if len(values) else None
            item["max"] = _finite(values.max()) if len(values) else None
        else:
            counts = column.dropna().astype(str).value_counts()
            item["kind"] = "categorical"
            item["distinct"] = len(counts)
            item["top"] = [(str(k), int(v)) for k, v in counts.head(TOP_CATEGORIES).items()]
        out.append(item)
    return out


class SummaryCache:
    """The newest summary and when its data was read; one read at a time."""

    def __init__(self) -> None:
        self._latest: tuple[DataSummary, float] | None = None
        self._lock = threading.Lock()

    def get(self, settings: DataSettings) -> DataSummary:
        with self._lock:
            latest = self._latest
            if latest is not None and time.monotonic() - latest[1] < RECHECK_AFTER_S:
                return latest[0]
            summary = _read(settings, latest[0] if latest else None)
            self._latest = (summary, time.monotonic())
            return summary


def _read(settings: DataSettings, previous: DataSummary | None) -> DataSummary:
    import pandas as pd

    from tabserve.data import content_hash, read_frame, select_columns

    frame = read_frame(settings)
    features, target = select_columns(frame, settings)
    digest = content_hash(pd.concat([features, target], axis=1))
    if previous is not None and previous.data_hash == digest:
        return previous
    log.info("summarised the training data %s", digest[:12])
    return DataSummary(
        data_hash=digest,
        rows=len(frame),
        target=settings.target,
        classes={str(k): int(v) for k, v in target.value_counts().items()},
        features=summarise(features, settings.target, list(features.columns)),
        target_bins=target_histogram(frame[settings.target]),  # the column's own numbers, not as text
    )
