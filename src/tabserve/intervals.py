"""Split-conformal prediction intervals: a regressor's value plus or minus a residual quantile.

A regression version keeps the absolute residuals ``|y - prediction|`` of its
hold-out rows, which the model never saw while fitting. For a coverage ``c``
the interval is ``prediction ± q``, where ``q`` is the ``k``-th smallest of the
``n`` residuals with ``k = ceil((n + 1) c)``: the finite-sample correction that
makes the interval cover a fresh row's true value with probability at least
``c``. The guarantee is marginal (on average over rows exchangeable with the
hold-out), not per row: an interval is as wide for easy rows as for hard ones.
When ``k > n`` the quantile is infinite: the hold-out is too small for that
coverage, and asking for it is refused.
"""

from __future__ import annotations

import math

import numpy as np

from tabserve.errors import InputError

REPORTED_COVERAGES = (0.8, 0.9)


def check_coverage(coverage: float, name: str = "interval") -> float:
    """A coverage strictly between 0 and 1, or an InputError naming the parameter."""
    if not isinstance(coverage, int | float) or isinstance(coverage, bool) or not 0 < coverage < 1:
        raise InputError(f"{name}: coverage must be a number strictly between 0 and 1")
    return float(coverage)


class ConformalResiduals:
    """The sorted absolute hold-out residuals of one version, answering half-widths for coverages."""

    def __init__(self, residuals: np.ndarray | list[float]) -> None:
        values = np.abs(np.asarray(residuals, dtype=np.float64))
        if values.ndim != 1 or not np.isfinite(values).all():
            raise ValueError("residuals must be a flat list of finite numbers")
        self.sorted = np.sort(values)
        self.count = len(self.sorted)

    def rank(self, coverage: float) -> int:
        """``ceil((n + 1) c)``: how many residuals the interval must reach past."""
        return math.ceil((self.count + 1) * coverage - 1e-12)

    def half_width(self, coverage: float) -> float:
        """The finite-sample-corrected ``coverage`` quantile of the residuals."""
        coverage = check_coverage(coverage)
        k = self.rank(coverage)
        if k > self.count:
            smallest = math.ceil(1 / (1 - coverage)) - 1
            raise InputError(
                f"interval: {coverage:g} coverage needs at least {smallest} hold-out residuals; "
                f"this version has {self.count} (train with a larger split.test_fraction)"
            )
        return float(self.sorted[k - 1])

    def bounds(self, values: np.ndarray, coverage: float) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper ends of the intervals around ``values``."""
        width = self.half_width(coverage)
        return values - width, values + width


def leave_one_out_coverage(residuals: np.ndarray, coverage: float) -> float | None:
    """The share of hold-out rows covered by an interval built from the *other* rows' residuals.

    An honest estimate of the coverage on fresh rows (each row is judged by a
    quantile it took no part in); None when the hold-out is too small.
    """
    values = np.abs(np.asarray(residuals, dtype=np.float64))
    others = len(values) - 1
    k = math.ceil((others + 1) * coverage - 1e-12)
    if others < 1 or k > others:
        return None
    order = np.argsort(values, kind="stable")
    ranks = np.empty(len(values), dtype=np.int64)
    ranks[order] = np.arange(len(values))
    ordered = values[order]
    # Without row i, the k-th smallest of the others is ordered[k] if i is among the k
    # smallest, else ordered[k - 1].
    quantile = np.where(ranks < k, ordered[k], ordered[k - 1])
    return float(np.mean(values <= quantile))
