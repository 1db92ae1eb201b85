"""A classifier fitted outside tabserve, described the way tabserve describes its own.

(A regressor goes to fitted_regression.py, which does the same for values.)

From a sample of its input: the feature schema (names, kinds, categories), the
data hash, and a check that the model answers the same when rows arrive the
way the server passes them (numbers as float64, categories as strings), so
the served answers are the notebook's. From optional hold-out rows: the same
metrics and confusion matrix a trained version records.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import is_classifier, is_regressor

from tabserve.data import content_hash
from tabserve.errors import ConfigError, DataError, InputError
from tabserve.features import coerce_frame, infer_schema
from tabserve.inputs import batch_from_frame
from tabserve.monitoring.profile import build_profile
from tabserve.predictor import SklearnRunner
from tabserve.registry.boosters import library_of
from tabserve.schema import FeatureSchema
from tabserve.training import TrainedModel, dotted_name, evaluate_labels

log = logging.getLogger(__name__)

PARITY_TOLERANCE = 1e-9
_PARAM_TYPES = (str, int, float, bool, type(None))


def describe_fitted(
    model: Any,
    x_sample: Any,
    *,
    feature_names: list[str] | None = None,
    x_test: Any = None,
    y_test: Any = None,
    classes: list[str] | None = None,
) -> TrainedModel:
    """Everything a version records about ``model``, from its input sample and optional hold-out;
    ``classes`` names the model's own classes by position (labels it was fitted on as codes)."""
    if is_regressor(model):
        return _regressor(model, x_sample, feature_names, x_test, y_test)
    own = _classes(model)
    classes, model_classes = _named_classes(own, classes)
    frame = as_frame(x_sample, feature_names, _fitted_names(model), "X_sample")
    target = getattr(y_test, "name", None) or "label"
    features = infer_schema(frame, pd.Series(classes)).features
    test_frame = None
    if (x_test is None) != (y_test is None):
        raise ConfigError("register: give both X_test and y_test, or neither")
    if x_test is not None:
        test_frame = as_frame(x_test, feature_names or list(frame.columns), None, "X_test")
        both = pd.concat([frame, test_frame], ignore_index=True)
        features = infer_schema(both, pd.Series(classes)).features
    schema = FeatureSchema(features, str(target), classes, model_classes=model_classes)
    predicted = check_served_answers(model, frame, schema, "X_sample")
    seen = frame if test_frame is None else pd.concat([frame, test_frame], ignore_index=True)
    profile_rows = coerce_frame(seen, schema)
    metrics: dict[str, Any] = {"scoring": "accuracy", "cv_score": None, "holdout_score": None}
    if test_frame is not None:
        truth = _labels(y_test, len(test_frame), schema)
        predicted = check_served_answers(model, test_frame, schema, "X_test")
        metrics.update(evaluate_labels(truth, predicted, classes))
        metrics["holdout_score"] = metrics["accuracy"]
        seen = seen.assign(**{f"__{target}": [*[None] * len(frame), *truth]})
    final = model.steps[-1][1] if hasattr(model, "steps") else model
    return TrainedModel(
        pipeline=model,
        schema=schema,
        estimator=dotted_name(final),
        params=_plain_params(final),
        cv_score=None,
        metrics=metrics,
        cv_results=[],
        data_rows=len(seen),
        data_hash=content_hash(seen),
        reference_rows=frame.to_numpy(dtype=np.float64) if schema.all_numeric else None,
        # Drift reference: every row given, and the labels answered for the hold-out (else the sample).
        profile=build_profile(profile_rows, schema, predicted),
        sample_rows=frame.head(5),
    )


def record_origin(trained: TrainedModel, model: Any, training_rows: int | None) -> TrainedModel:
    """Note what the notebook alone knows: the pipeline's steps (the stored params are only the final
    step's) and how many rows it was trained on; without ``training_rows`` the count is the rows given
    here, marked as a sample so no page calls it the training set."""
    if training_rows is not None:
        if (
            isinstance(training_rows, bool)
            or not isinstance(training_rows, int | np.integer)
            or training_rows < 1
        ):
            raise ConfigError(
                "register: data_rows must be a positive whole number (the rows it was fitted on)"
            )
        trained.data_rows = int(training_rows)
    trained.metrics["data_rows_of"] = "sample" if training_rows is None else "training"
    if hasattr(model, "steps"):
        trained.metrics["pipeline_steps"] = [
            {"name": str(name), "estimator": _class_name(step)} for name, step in model.steps
        ]
    return trained


def _regressor(model: Any, x_sample: Any, names: list[str] | None, x_test: Any, y_test: Any) -> TrainedModel:
    from tabserve.fitted_regression import describe_fitted_regressor

    frame = as_frame(x_sample, names, _fitted_names(model), "X_sample")
    if (x_test is None) != (y_test is None):
        raise ConfigError("register: give both X_test and y_test, or neither")
    test = None if x_test is None else as_frame(x_test, names or list(frame.columns), None, "X_test")
    final = model.steps[-1][1] if hasattr(model, "steps") else model
    return describe_fitted_regressor(model, frame, test, y_test, _plain_params(final))


def _classes(model: Any) -> list[str]:
    if not is_classifier(model):
        raise ConfigError(
            f"register: model must be a fitted scikit-learn classifier, got {type(model).__name__}"
        )
    found = getattr(model, "classes_", None)
    if found is None:
        raise ConfigError("register: the model is not fitted (it has no classes_); fit it first")
    classes = [str(c) for c in found]
    if len(set(classes)) != len(classes):
        raise ConfigError(f"register: class labels {classes} are not distinct once written as text")
    return classes


def _named_classes(own: list[str], names: Any) -> tuple[list[str], list[str] | None]:
    """(the labels answers speak, the model's own classes where those differ); ``names`` is the
    ``classes=`` a caller gave, one per class of the model, in the order of its ``classes_``."""
    if names is None:
        return own, None
    if isinstance(names, str) or not hasattr(names, "__iter__"):
        raise ConfigError("register: classes must be a list of labels, one per class of the model")
    labels = [str(n) for n in (names.tolist() if hasattr(names, "tolist") else names)]
    if len(labels) != len(own):
        raise ConfigError(
            f"register: classes gives {len(labels)} labels; the model has {len(own)} classes "
            f"({', '.join(own)})"
        )
    if len(set(labels)) != len(labels):
        raise ConfigError("register: classes has a label twice once written as text")
    return labels, (own if labels != own else None)


def _fitted_names(model: Any) -> list[str] | None:
    if library_of(model) == "lightgbm":  # it rewrites the names it keeps ("a b" as "a_b"): use the sample's
        return None
    try:
        names = model.feature_names_in_
    except AttributeError:
        return None
    return [str(n) for n in names]


def as_frame(x: Any, feature_names: list[str] | None, fitted: list[str] | None, what: str) -> pd.DataFrame:
    """The rows as a DataFrame with the model's input columns, in order; errors name ``what``."""
    if isinstance(x, pd.DataFrame):
        frame = x.copy()
        frame.columns = [str(c) for c in frame.columns]
    else:
        try:
            values = np.asarray(x)
        except Exception:
            raise DataError(f"{what}: expected a DataFrame or a 2-D array, got {type(x).__name__}") from None
        if values.ndim != 2:
            raise DataError(f"{what}: expected a DataFrame or a 2-D array, got {values.ndim} dimension(s)")
        names = feature_names or fitted
        if names is None:
            raise DataError(f"{what}: an array has no column names; pass feature_names=[...]")
        if len(names) != values.shape[1]:
            raise DataError(f"{what}: {values.shape[1]} columns but {len(names)} feature names")
        frame = pd.DataFrame(values, columns=[str(n) for n in names])
        frame = frame.infer_objects()
    wanted = fitted or ([str(n) for n in feature_names] if feature_names else list(frame.columns))
    if len(set(wanted)) != len(wanted):
        raise DataError(f"{what}: a column name appears twice")
    missing = [n for n in wanted if n not in frame.columns]
    if missing:
        raise DataError(f"{what}: missing column(s) {', '.join(missing)} the model was fitted with")
    if frame.empty:
        raise DataError(f"{what}: no rows; give a few rows of the model's input")
    return frame[wanted]


def _labels(y: Any, rows: int, schema: FeatureSchema) -> list[str]:
    """``y_test`` as class names: given as names, or as the model's own codes."""
    classes = schema.classes
    labels = [str(v) for v in (y.tolist() if hasattr(y, "tolist") else list(y))]
    if len(labels) != rows:
        raise DataError(f"y_test: {len(labels)} labels for {rows} rows of X_test")
    codes = set(schema.model_classes or ())
    if codes and not set(labels) <= set(classes) and set(labels) <= codes:
        labels = schema.names_of(labels)
    unknown = sorted(set(labels) - set(classes))
    if unknown:
        raise DataError(
            f"y_test: label(s) {', '.join(unknown[:5])} are not classes of the model ({', '.join(classes)})"
        )
    return labels


def check_served_answers(model: Any, frame: pd.DataFrame, schema: FeatureSchema, what: str) -> list[str]:
    """The labels the server will answer for ``frame``, after checking they (and the probabilities, when
    the model has them) are the model's own on the rows as given; DataError if serving would change one."""
    given = frame if hasattr(model, "feature_names_in_") else frame.to_numpy()
    scores = model.predict_proba if hasattr(model, "predict_proba") else model.predict
    try:
        expected = np.asarray(scores(given))
    except Exception as exc:  # the user's model: any kind of failure
        raise DataError(f"{what}: the model cannot score these rows ({type(exc).__name__}: {exc})") from None
    try:
        batch = batch_from_frame(frame, schema)
        runner = SklearnRunner(model, schema)
        served = runner.predict_proba(batch) if runner.probabilities else runner.predict_indices(batch)
    except InputError as exc:
        raise DataError(f"{what}: {exc}") from None
    except Exception as exc:
        raise DataError(
            f"{what}: the model fails on rows as the server passes them (numbers as float64, "
            f"categories as text): {type(exc).__name__}: {exc}"
        ) from None
    classes = np.asarray(schema.classes, dtype=object)
    if not runner.probabilities:
        labels = classes[served]
        if [str(v) for v in expected] != labels.tolist():
            raise DataError(_differs(schema, what, "labels"))
        return labels.tolist()
    gap = float(
        np.max(np.abs(np.asarray(served, dtype=np.float64) - expected.astype(np.float64)), initial=0.0)
    )
    if not gap <= PARITY_TOLERANCE:
        raise DataError(_differs(schema, what, f"probabilities up to {gap:.2e} apart"))
    return classes[np.argmax(served, axis=1)].tolist()


def _differs(schema: FeatureSchema, what: str, how: str) -> str:
    kinds = ", ".join(f"{f.name} {f.type}" for f in schema.features)
    return (
        f"{what}: the model answers differently ({how}) when the rows arrive as the server passes them "
        f"({kinds}: numbers as float64, categories as text); fit it on columns of those kinds"
    )


def _plain_params(estimator: Any) -> dict[str, Any]:
    """The final estimator's own parameters, JSON-safe: objects become their dotted class names."""
    params = {}
    for name, value in estimator.get_params(deep=False).items():
        if isinstance(value, float) and not np.isfinite(value):
            params[name] = str(value)
        elif isinstance(value, _PARAM_TYPES):
            params[name] = value
        elif isinstance(value, np.generic):
            params[name] = value.item()
        elif isinstance(value, list | tuple) and all(isinstance(v, _PARAM_TYPES) for v in value):
            params[name] = list(value)
        elif isinstance(value, list) and all(isinstance(v, tuple) and len(v) >= 2 for v in value):
            params[name] = {str(v[0]): _class_name(v[1]) for v in value}  # named sub-estimators
        else:
            params[name] = _class_name(value)
    return params


def _class_name(value: Any) -> str:
    if isinstance(value, str):
        return value
    cls = type(value)
    return f"{cls.__module__.split('._')[0]}.{cls.__name__}"
