"""Live drift of one served version: recent rows counted into its reference bins.

The window holds counts, never rows: ``BLOCKS`` blocks of bin counts, the
oldest dropped whole when the newest fills, so memory is a few integers per
bin whatever ``window_rows`` is, and the figures cover between
``window_rows * (1 - 1/BLOCKS)`` and ``window_rows`` of the most recent rows.
A batch is binned with one ``searchsorted`` per feature and counted with one
``bincount`` over every feature at once (bins are laid out end to end).

The predictions are counted the same way: a classifier's by class, against the
hold-out's class mix; a regressor's values into the decile bins of its hold-out
predictions. A regressor stored without hold-out predictions has feature drift
but no prediction drift, and the report says why.
"""

from __future__ import annotations

import itertools
import math
import threading
from typing import Any

import numpy as np

from tabserve.monitoring.bins import category_bins, numeric_bins

BLOCKS = 10
PSI_FLOOR = 1e-4  # a share of 0 would make the PSI infinite; this is the usual floor
DRIFT_PSI = 0.2  # the customary "significant shift" threshold, also used by deploy/prometheus
NO_VALUE_REFERENCE = (
    "not available: this version was stored without hold-out predictions to compare with "
    "(a regressor registered without X_test and y_test, or trained before they were kept); "
    "retrain it, or register it with hold-out rows"
)


def psi(reference: np.ndarray, counts: np.ndarray) -> float | None:
    """Population stability index of live ``counts`` against reference shares; None with no rows."""
    total = counts.sum()
    if not total:
        return None
    live = np.maximum(counts / total, PSI_FLOOR)
    expected = np.maximum(np.asarray(reference, dtype=np.float64), PSI_FLOOR)
    return float(np.sum((live - expected) * np.log(live / expected)))


def value_bin_labels(edges: list[float]) -> list[str]:
    """A name for each bin of predicted values (the last, missing, bin included), e.g. ``12.5 to 20``."""
    if not edges:
        return ["all", "missing"]
    inner = [f"{low:.4g} to {high:.4g}" for low, high in itertools.pairwise(edges)]
    return [f"below {edges[0]:.4g}", *inner, f"{edges[-1]:.4g} and above", "missing"]


class DriftWindow:
    """Bin counts of the last ``window_rows`` rows of one version, per feature and per predicted class
    (a regressor: per bin of predicted values)."""

    def __init__(
        self, profile: dict[str, Any], names: list[str], window_rows: int, regression: bool = False
    ) -> None:
        self.profile = profile
        self.names = names
        self.window_rows = window_rows
        self.block_rows = max(1, math.ceil(window_rows / BLOCKS))
        self.capacity = self.block_rows * BLOCKS  # adding this many rows evicts every older one
        self.specs = [profile["features"][name] for name in names]
        widths = [len(spec["reference"]) for spec in self.specs]
        self.offsets = np.concatenate([[0], np.cumsum(widths)[:-1]]).astype(np.int64)
        self.widths = widths
        self.edges = [np.asarray(s.get("edges", []), dtype=np.float64) for s in self.specs]
        self.regression = regression
        self.values = profile.get("values") if regression else None  # the hold-out predictions' bins
        if regression:
            spec = self.values
            self.classes = value_bin_labels(spec["edges"]) if spec else []
            self.value_edges = np.asarray(spec["edges"] if spec else [], dtype=np.float64)
            self.reference = list(spec["reference"]) if spec else []
        else:
            self.classes = list(profile["classes"])
            self.reference = list(profile["class_mix"])
        self.bins = np.zeros((BLOCKS, int(sum(widths))), dtype=np.int64)
        self.out_of_range = np.zeros((BLOCKS, len(names)), dtype=np.int64)
        self.predicted = np.zeros((BLOCKS, len(self.classes)), dtype=np.int64)
        self.rows = np.zeros(BLOCKS, dtype=np.int64)
        self.current = 0
        self.lock = threading.Lock()

    def add(self, columns: list[np.ndarray | list], indices: np.ndarray) -> None:
        """Count a batch: one array or list per feature (in ``names`` order) and each row's class index
        (a regressor: each row's predicted value).

        Of a batch longer than the ring only the last ``capacity`` rows are binned:
        the earlier ones would be evicted by them before anyone could read them.
        """
        count = len(indices)
        if not count:
            return
        if count > self.capacity:
            columns = [values[-self.capacity :] for values in columns]
            indices = indices[-self.capacity :]
            count = self.capacity
        binned = np.empty((count, len(self.names)), dtype=np.int64)
        beyond = np.zeros((count, len(self.names)), dtype=bool)
        for j, (spec, values) in enumerate(zip(self.specs, columns, strict=True)):
            if spec["type"] == "numeric":
                numbers = np.asarray(values, dtype=np.float64)
                binned[:, j] = numeric_bins(numbers, self.edges[j])
                if spec["min"] is not None:
                    with np.errstate(invalid="ignore"):
                        beyond[:, j] = (numbers < spec["min"]) | (numbers > spec["max"])
            else:
                binned[:, j] = category_bins(values, spec["categories"])
        binned += self.offsets
        if self.regression:
            indices = numeric_bins(np.asarray(indices, dtype=np.float64), self.value_edges)
        indices = np.asarray(indices, dtype=np.int64)
        counted = len(self.classes) > 0  # a regressor without a reference counts no predictions
        with self.lock:
            start = 0
            while start < count:
                room = self.block_rows - int(self.rows[self.current])
                if room <= 0:
                    self._next_block()
                    continue
                end = min(count, start + room)
                block = self.current
                self.bins[block] += np.bincount(binned[start:end].ravel(), minlength=self.bins.shape[1])
                self.out_of_range[block] += beyond[start:end].sum(axis=0)
                if counted:
                    self.predicted[block] += np.bincount(indices[start:end], minlength=len(self.classes))
                self.rows[block] += end - start
                start = end

    def _next_block(self) -> None:
        self.current = (self.current + 1) % BLOCKS
        self.bins[self.current] = 0
        self.out_of_range[self.current] = 0
        self.predicted[self.current] = 0
        self.rows[self.current] = 0

    def report(self, min_rows: int = 1) -> dict[str, Any]:
        """Per feature: PSI and the shares missing, out of range, unseen; the class mix vs the hold-out.

        Below ``min_rows`` rows there is no verdict: every PSI and ``drifted`` is None. A
        small sample of the training data itself has a PSI of roughly bins/rows, so a
        handful of rows would look drifted whatever they are.
        """
        with self.lock:
            bins = self.bins.sum(axis=0)
            beyond = self.out_of_range.sum(axis=0)
            predicted = self.predicted.sum(axis=0)
            rows = int(self.rows.sum())
        judged = rows >= min_rows
        features = {}
        for j, (name, spec) in enumerate(zip(self.names, self.specs, strict=True)):
            counts = bins[self.offsets[j] : self.offsets[j] + self.widths[j]]
            value = psi(np.asarray(spec["reference"]), counts) if judged else None
            numeric = spec["type"] == "numeric"
            features[name] = {
                "type": spec["type"],
                "psi": value,
                "drifted": None if value is None else value > DRIFT_PSI,
                "missing_share": _share(counts[-1], rows),
                "out_of_range_share": _share(beyond[j], rows) if numeric else None,
                "unseen_share": None if numeric else _share(counts[-2], rows),
            }
        return {
            "rows": rows,
            "verdict": judged,
            "features": features,
            "predictions": self._predictions(predicted, rows, judged),
        }

    def _predictions(self, predicted: np.ndarray, rows: int, judged: bool) -> dict[str, Any]:
        """The predicted class mix (a regressor: the predicted values' bins) against the hold-out's."""
        kind = "values" if self.regression else "classes"
        if self.regression and not self.classes:
            return {
                "kind": kind,
                "available": False,
                "detail": NO_VALUE_REFERENCE,
                "psi": None,
                "drifted": None,
                "live": {},
                "reference": {},
            }
        value = psi(np.asarray(self.reference), predicted) if judged else None
        return {
            "kind": kind,
            "available": True,
            "psi": value,
            "drifted": None if value is None else value > DRIFT_PSI,
            "live": dict(zip(self.classes, _shares(predicted, rows), strict=True)),
            "reference": dict(zip(self.classes, self.reference, strict=True)),
        }


def _share(count: Any, rows: int) -> float | None:
    return float(count) / rows if rows else None


def _shares(counts: np.ndarray, rows: int) -> list[float | None]:
    return [float(c) / rows if rows else None for c in counts]
