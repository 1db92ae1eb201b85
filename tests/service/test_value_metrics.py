"""The predicted-values histogram: a batch binned with numpy counts exactly as value-by-value observing."""

from __future__ import annotations

import numpy as np
from prometheus_client import CollectorRegistry, Histogram, generate_latest

from tabserve.service.predict.value_metrics import BOUNDS, observe_batch


def _scrape(registry: CollectorRegistry) -> dict[str, float]:
    found = {}
    for line in generate_latest(registry).decode().splitlines():
        if line.startswith("values_") and not line.startswith("values_created"):
            name, value = line.rsplit(" ", 1)
            found[name.split("{")[0] + "{" + name.split("{", 1)[1]] = float(value)
    return found


def _histogram() -> tuple[CollectorRegistry, Histogram]:
    registry = CollectorRegistry()
    return registry, Histogram("values", "v", ["model"], buckets=BOUNDS.tolist(), registry=registry)


def test_a_batch_counts_as_observing_each_value():
    values = np.array([-3.0, 0.0, 0.004, 1.0, 1.5, 250.0, 2e7, -5e7, 0.01])
    batch_registry, batch = _histogram()
    observe_batch(batch.labels("m"), values[:4])
    observe_batch(batch.labels("m"), values[4:])
    one_registry, one = _histogram()
    for value in values:
        one.labels("m").observe(value)
    scraped = _scrape(batch_registry)
    assert scraped == _scrape(one_registry)
    assert scraped['values_bucket{le="+Inf",model="m"}'] == len(values)
    assert scraped['values_bucket{le="0.01",model="m"}'] == 5  # a value on a bound is in its bucket


def test_bounds_are_sorted_and_symmetric():
    assert np.all(np.diff(BOUNDS) > 0)
    np.testing.assert_array_equal(BOUNDS, -BOUNDS[::-1])
