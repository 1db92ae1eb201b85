"""A regressor fitted outside tabserve (a notebook's model), described like a trained one.

The same as fitted.py does for classifiers: the schema from a sample, the check
that answers served from rows as the server passes them equal the model's own,
and from ``X_test``/``y_test`` the hold-out metrics and the absolute residuals
its prediction intervals are made of. Without hold-out rows the version answers
values but has no intervals (asking for one says so).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from tabserve.data import content_hash
from tabserve.errors import ConfigError, DataError, InputError
from tabserve.features import coerce_frame, infer_schema
from tabserve.inputs import batch_from_frame
from tabserve.monitoring.profile import build_profile
from tabserve.predictor import SklearnRunner
from tabserve.regression import evaluate_values
from tabserve.schema import FeatureSchema
from tabserve.task import REGRESSION
from tabserve.training import TrainedModel, dotted_name

PARITY_TOLERANCE = 1e-9


def describe_fitted_regressor(
    model: Any,
    frame: pd.DataFrame,
    test_frame: pd.DataFrame | None,
    y_test: Any,
    params: dict[str, Any],
) -> TrainedModel:
    """A version's description of a fitted regressor, from its input sample and optional hold-out rows."""
    if not hasattr(model, "predict"):
        raise ConfigError(
            f"register: model must be a fitted regressor with predict, got {type(model).__name__}"
        )
    target = str(getattr(y_test, "name", None) or "value")
    seen = frame if test_frame is None else pd.concat([frame, test_frame], ignore_index=True)
    features = infer_schema(seen, pd.Series([], dtype=float, name=target), REGRESSION).features
    schema = FeatureSchema(features, target, [], REGRESSION)
    served_values(model, frame, schema, "X_sample")
    metrics: dict[str, Any] = {
        "scoring": "neg_root_mean_squared_error",
        "cv_score": None,
        "holdout_score": None,
        "task": REGRESSION,
        "task_reason": "registered: the model is a regressor",
    }
    residuals = predicted = None
    if test_frame is not None:
        truth = _values(y_test, len(test_frame))
        predicted = served_values(model, test_frame, schema, "X_test")
        metrics.update(evaluate_values(truth, predicted))
        metrics["holdout_score"] = -metrics["rmse"]
        residuals = np.abs(truth - predicted)
        seen = seen.assign(**{f"__{target}": [*[None] * len(frame), *truth.tolist()]})
    final = model.steps[-1][1] if hasattr(model, "steps") else model
    return TrainedModel(
        pipeline=model,
        schema=schema,
        estimator=dotted_name(final),
        params=params,
        cv_score=None,
        metrics=metrics,
        cv_results=[],
        data_rows=len(seen),
        data_hash=content_hash(seen),
        reference_rows=None,
        profile=build_profile(coerce_frame(seen[schema.names], schema), schema, [], predicted),
        residuals=residuals,
    )


def _values(y: Any, rows: int) -> np.ndarray:
    try:
        values = np.asarray(y.tolist() if hasattr(y, "tolist") else list(y), dtype=np.float64)
    except (TypeError, ValueError):
        raise DataError("y_test: a regressor's hold-out targets must be numbers") from None
    if values.shape != (rows,):
        raise DataError(f"y_test: {values.size} targets for {rows} rows of X_test")
    if not np.isfinite(values).all():
        raise DataError("y_test: the hold-out targets must be finite numbers (no missing values)")
    return values


def served_values(model: Any, frame: pd.DataFrame, schema: FeatureSchema, what: str) -> np.ndarray:
    """The values the server will answer for ``frame``, checked equal to the model's own on the rows
    as given; DataError if serving would change an answer."""
    given = frame if hasattr(model, "feature_names_in_") else frame.to_numpy()
    try:
        expected = np.asarray(model.predict(given), dtype=np.float64).reshape(-1)
    except Exception as exc:  # the user's model: any kind of failure
        raise DataError(f"{what}: the model cannot score these rows ({type(exc).__name__}: {exc})") from None
    try:
        served = SklearnRunner(model, schema).predict_values(batch_from_frame(frame, schema))
    except InputError as exc:
        raise DataError(f"{what}: {exc}") from None
    except Exception as exc:
        raise DataError(
            f"{what}: the model fails on rows as the server passes them (numbers as float64, "
            f"categories as text): {type(exc).__name__}: {exc}"
        ) from None
    gap = float(np.max(np.abs(served - expected), initial=0.0))
    if not gap <= PARITY_TOLERANCE * max(1.0, float(np.max(np.abs(expected), initial=0.0))):
        raise DataError(
            f"{what}: the model answers differently (values up to {gap:.2e} apart) when the rows arrive "
            "as the server passes them (numbers as float64, categories as text); "
            "fit it on columns of those kinds"
        )
    return served
