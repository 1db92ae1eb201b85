"""What changes when the target is a quantity: default candidates, scoring, hold-out metrics.

The hold-out's absolute residuals are also what the version keeps for its
prediction intervals (intervals.py): the model never saw those rows while fitting.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
from sklearn.metrics import get_scorer, mean_absolute_error, r2_score, root_mean_squared_error

from tabserve.config import DEFAULT_SCORING, Candidate, Settings, default_regression_candidates
from tabserve.errors import ConfigError
from tabserve.intervals import REPORTED_COVERAGES, leave_one_out_coverage
from tabserve.task import REGRESSION

log = logging.getLogger(__name__)

REGRESSION_SCORING = "neg_root_mean_squared_error"
RESIDUAL_QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


def candidates_for(settings: Settings, task: str) -> list[Candidate]:
    """The configured candidates; for regression, the regression defaults when none were given."""
    if task == REGRESSION and settings.uses_default_candidates():
        log.info("regression: candidates not given, using Ridge, RandomForestRegressor, HistGradientBoosting")
        return default_regression_candidates()
    return list(settings.candidates)


def scoring_for(settings: Settings, task: str) -> str:
    """The configured scorer, checked against the task; regression's default is negative RMSE."""
    name = settings.search.scoring
    if task == REGRESSION and name == DEFAULT_SCORING:
        return REGRESSION_SCORING
    try:
        scorer = get_scorer(name)
    except ValueError:
        raise ConfigError(f"search.scoring: '{name}' is not a scikit-learn scorer name") from None
    module = getattr(getattr(scorer, "_score_func", None), "__module__", "")
    for_regression = module.endswith("_regression")
    for_classes = module.endswith(("_classification", "_ranking"))
    if task == REGRESSION and for_classes:
        raise ConfigError(f"search.scoring: '{name}' scores classifiers; task is regression")
    if task != REGRESSION and for_regression:
        raise ConfigError(f"search.scoring: '{name}' scores regressors; task is {task}")
    return name


def evaluate_values(y_test: Any, predicted: Any) -> dict[str, Any]:
    """Hold-out RMSE, MAE, R², residual quantiles and the intervals' leave-one-out coverage."""
    actual = np.asarray(y_test, dtype=np.float64)
    values = np.asarray(predicted, dtype=np.float64)
    residuals = actual - values
    quantiles = np.quantile(residuals, RESIDUAL_QUANTILES)
    return {
        "rmse": float(root_mean_squared_error(actual, values)),
        "mae": float(mean_absolute_error(actual, values)),
        "r2": float(r2_score(actual, values)) if len(actual) > 1 else None,
        "residual_quantiles": {
            f"{q:g}": float(v) for q, v in zip(RESIDUAL_QUANTILES, quantiles, strict=True)
        },
        "holdout_rows": len(actual),
        "intervals": {
            "method": "split-conformal",
            "residuals": len(actual),
            "holdout_coverage": {
                f"{c:g}": leave_one_out_coverage(np.abs(residuals), c) for c in REPORTED_COVERAGES
            },
        },
    }


def holdout_pictures(actual: Any, predicted: Any, title: str) -> dict[str, bytes]:
    """Predicted against actual and the residual distribution, as PNGs by artifact kind (none if
    this install cannot draw)."""
    from tabserve.extras import can_draw

    if not can_draw():
        return {}
    from tabserve.plots import predicted_vs_actual_png, residuals_png

    truth = np.asarray(actual, dtype=np.float64)
    values = np.asarray(predicted, dtype=np.float64)
    return {
        "predicted_vs_actual": predicted_vs_actual_png(truth.tolist(), values.tolist(), title),
        "residual_distribution": residuals_png((truth - values).tolist(), title),
    }
