"""The predicted-values histogram: batches binned with numpy, exposed as a Prometheus histogram."""

from __future__ import annotations

import numpy as np
from prometheus_client import CollectorRegistry, generate_latest

from tabserve.service.ops.value_metrics import BOUNDS, ValueHistograms


def _scrape(histograms: ValueHistograms) -> dict[str, float]:
    registry = CollectorRegistry()
    registry.register(histograms)
    found = {}
    for line in generate_latest(registry).decode().splitlines():
        if line.startswith("tabserve_predicted_values"):
            name, value = line.rsplit(" ", 1)
            found[name] = float(value)
    return found


def test_buckets_are_cumulative_and_match_one_by_one_counting():
    values = np.array([-3.0, 0.0, 0.004, 1.0, 1.5, 250.0, 2e7])
    histograms = ValueHistograms()
    histograms.observe("m", "tabserve", values[:3])
    histograms.observe("m", "tabserve", values[3:])
    scraped = _scrape(histograms)
    for bound in BOUNDS.tolist():
        key = f'tabserve_predicted_values_bucket{{le="{float(bound)!r}",model="m",protocol="tabserve"}}'
        assert scraped[key] == float(np.sum(values <= bound)), bound
    assert scraped['tabserve_predicted_values_bucket{le="+Inf",model="m",protocol="tabserve"}'] == 7
    assert not any(
        name.endswith(("_sum", "_count")) for name in scraped
    )  # Prometheus' rule for negative buckets


def test_bounds_are_sorted_and_symmetric():
    assert np.all(np.diff(BOUNDS) > 0)
    np.testing.assert_array_equal(BOUNDS, -BOUNDS[::-1])
