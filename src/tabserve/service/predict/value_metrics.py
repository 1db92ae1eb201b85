"""A regressor's predicted values into a Prometheus histogram, a batch at a time.

prometheus_client observes one value per call; a 10,000-row batch would cost
10,000 calls on the predict path. Here a batch is binned with numpy
(``searchsorted`` then ``bincount``) and each bucket of the histogram's child
is incremented once by its count, exactly what observing value by value does,
so the histogram stays a normal one (and adds up across workers). The buckets
are one scale for every model (1, 2, 5 per decade from 0.01 to a million,
mirrored for negative values), so the series stay comparable whatever a model
predicts.
"""

from __future__ import annotations

from typing import Any

import numpy as np

NAME = "tabserve_predicted_values"
HELP = "Values predicted by regression models, by model and the protocol that asked"
_POSITIVE = [m * 10.0**e for e in range(-2, 7) for m in (1, 2, 5)]
BOUNDS = np.array([*(-b for b in reversed(_POSITIVE)), 0.0, *_POSITIVE])


def observe_batch(child: Any, values: np.ndarray) -> None:
    """Add finite ``values`` to a histogram child with buckets ``BOUNDS`` (a value on a bound counts
    in that bound's bucket, as ``observe`` does); value by value where the child's inside differs."""
    buckets = getattr(child, "_buckets", None)
    total = getattr(child, "_sum", None)
    if buckets is None or total is None or len(buckets) != len(BOUNDS) + 1:
        for value in values.tolist():
            child.observe(value)
        return
    counts = np.bincount(np.searchsorted(BOUNDS, values, side="left"), minlength=len(BOUNDS) + 1)
    for bucket, count in zip(buckets, counts.tolist(), strict=True):
        if count:
            bucket.inc(count)
    total.inc(float(np.sum(values)))
