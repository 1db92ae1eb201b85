"""Split-conformal intervals: the finite-sample quantile, refusals, and coverage on fresh rows."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tabserve.errors import InputError
from tabserve.intervals import ConformalResiduals, check_coverage, leave_one_out_coverage


def test_half_width_is_the_corrected_order_statistic():
    residuals = ConformalResiduals([5.0, 1.0, 4.0, 2.0, 3.0, 9.0, 7.0, 8.0, 6.0, 10.0])  # n = 10
    # ceil(11 * 0.8) = 9: the 9th smallest, not the plain 80 % quantile (8).
    assert residuals.half_width(0.8) == 9.0
    assert residuals.half_width(0.5) == 6.0  # ceil(5.5) = 6
    lower, upper = residuals.bounds(np.array([100.0, -1.0]), 0.8)
    assert lower.tolist() == [91.0, -10.0] and upper.tolist() == [109.0, 8.0]


def test_signs_do_not_matter():
    assert ConformalResiduals([-3.0, 1.0, 2.0]).sorted.tolist() == [1.0, 2.0, 3.0]


def test_too_few_residuals_for_the_coverage_is_refused_with_the_count():
    residuals = ConformalResiduals(np.arange(1.0, 10.0))  # n = 9: 0.9 needs ceil(10 * 0.9) = 9, fine
    assert residuals.half_width(0.9) == 9.0
    with pytest.raises(
        InputError, match=r"interval: 0.95 coverage needs at least 19 hold-out residuals; .* 9"
    ):
        residuals.half_width(0.95)


@pytest.mark.parametrize("bad", [0, 1, 1.5, -0.1, True, "0.9", math.nan])
def test_coverage_outside_zero_one_names_interval(bad):
    with pytest.raises(InputError, match=r"^interval: coverage must be"):
        check_coverage(bad)


def test_leave_one_out_coverage_matches_a_direct_count():
    rng = np.random.default_rng(3)
    values = np.abs(rng.normal(size=57))
    for coverage in (0.5, 0.8, 0.9):
        covered = 0
        for i in range(len(values)):
            others = np.delete(values, i)
            k = math.ceil((len(others) + 1) * coverage)
            covered += values[i] <= np.sort(others)[k - 1]
        assert leave_one_out_coverage(values, coverage) == pytest.approx(covered / len(values))
    assert leave_one_out_coverage(np.array([1.0, 2.0]), 0.9) is None


@pytest.mark.parametrize("coverage", [0.8, 0.9])
def test_gaussian_noise_is_covered_at_the_nominal_rate_on_fresh_rows(coverage):
    """Known noise, a known model: the interval covers within 3 points of nominal on fresh rows."""
    rng = np.random.default_rng(11)
    residuals = ConformalResiduals(rng.normal(0, 2.0, 2000))
    fresh_truth = rng.normal(0, 2.0, 20_000)  # the prediction is 0, the truth is noise around it
    lower, upper = residuals.bounds(np.zeros(len(fresh_truth)), coverage)
    covered = float(np.mean((lower <= fresh_truth) & (fresh_truth <= upper)))
    assert abs(covered - coverage) <= 0.03
