"""Shadow scoring of a regression model, with small stand-in versions: differences, not agreement."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from tabserve.monitoring.channel import Observation
from tabserve.monitoring.shadow import ShadowScorer


def _version(version: int, offset: float, regression: bool = True) -> SimpleNamespace:
    """A version that answers each row's first value plus ``offset``."""

    def predict(batch, labels_only=False, interval=None):
        return SimpleNamespace(values=np.asarray(batch.matrix)[:, 0] + offset)

    return SimpleNamespace(model="m", version=version, is_regression=regression, predict=predict)


def _call(production: SimpleNamespace, matrix: np.ndarray) -> Observation:
    values = production.predict(SimpleNamespace(matrix=matrix)).values
    return Observation(production, len(matrix), matrix, None, np.empty(0), None, 0.0, values)


def test_a_regression_pair_reports_mean_absolute_relative_and_largest_difference():
    production = _version(1, 0.0)
    scorer = ShadowScorer({"m": 2}, lambda model, version: _version(version, 2.0))
    matrix = np.array([[8.0], [-2.0], [4.0]])
    scorer.handle([_call(production, matrix)])
    (pair,) = scorer.report("m")["pairs"]
    assert pair["kind"] == "values" and pair["rows"] == 3 and pair["errors"] == 0
    assert pair["mean_absolute_difference"] == pytest.approx(2.0)
    assert pair["mean_relative_difference"] == pytest.approx(6.0 / 14.0)  # 3 x 2 over |8| + |-2| + |4|
    assert pair["max_absolute_difference"] == pytest.approx(2.0)
    assert "agreement" not in pair and "confusion" not in pair


def test_a_shadow_of_the_other_task_is_counted_as_errors_never_raised():
    production = _version(1, 0.0)
    scorer = ShadowScorer({"m": 2}, lambda model, version: _version(version, 0.0, regression=False))
    scorer.handle([_call(production, np.array([[1.0], [2.0]]))])
    (pair,) = scorer.report("m")["pairs"]
    assert pair["errors"] == 2 and pair["rows"] == 0 and pair["mean_absolute_difference"] is None
