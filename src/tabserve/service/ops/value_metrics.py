"""A regressor's predicted values as a Prometheus histogram, counted a batch at a time.

prometheus_client observes one value per call; a 10,000-row batch would cost
10,000 calls on the predict path. Here a batch is binned with numpy
(``searchsorted`` then ``bincount``) into counts kept per model and protocol,
and the histogram is built at scrape time. The buckets are one scale for every
model (1, 2, 5 per decade from 0.01 to a million, mirrored for negative values),
so the series stay comparable whatever a model predicts. With negative buckets
Prometheus' histogram has no ``_sum`` (nor ``_count``): the ``+Inf`` bucket is the count.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

import numpy as np
from prometheus_client.core import HistogramMetricFamily
from prometheus_client.registry import Collector

NAME = "tabserve_predicted_values"
HELP = "Values predicted by regression models, by model and the protocol that asked"
_POSITIVE = [m * 10.0**e for e in range(-2, 7) for m in (1, 2, 5)]
BOUNDS = np.array([*(-b for b in reversed(_POSITIVE)), 0.0, *_POSITIVE])


class ValueHistograms(Collector):
    """Bucket counts of predicted values per (model, protocol), exposed as histograms."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, str], np.ndarray] = {}

    def observe(self, model: str, protocol: str, values: np.ndarray) -> None:
        """Count a batch of finite values (a value equal to a bound falls in that bound's bucket)."""
        bins = np.bincount(np.searchsorted(BOUNDS, values, side="left"), minlength=len(BOUNDS) + 1)
        key = (model, protocol)
        with self._lock:
            current = self._counts.get(key)
            self._counts[key] = bins if current is None else current + bins

    def describe(self) -> Iterable[HistogramMetricFamily]:
        return [HistogramMetricFamily(NAME, HELP, labels=["model", "protocol"])]

    def collect(self) -> Iterable[HistogramMetricFamily]:
        family = HistogramMetricFamily(NAME, HELP, labels=["model", "protocol"])
        with self._lock:
            items = [(key, counts.copy()) for key, counts in self._counts.items()]
        for (model, protocol), counts in items:
            cumulative = np.cumsum(counts).tolist()
            buckets = [(_bound(b), float(c)) for b, c in zip(BOUNDS.tolist(), cumulative, strict=False)]
            buckets.append(("+Inf", float(cumulative[-1])))
            family.add_metric([model, protocol], buckets, None)
        return [family]


def _bound(value: float) -> str:
    return repr(float(value))
