"""Compile time of the serving fast path: a fitted all-numeric pipeline compiled for ONNX Runtime.

The pipelines compiled are tabserve's own shape (numeric prep + clf, whatever
trained them) and a bare XGBoost or LightGBM classifier (converted with
onnxmltools's converters registered with skl2onnx).

Imputation and scaling run in numpy with the exact operations scikit-learn
uses; the classifier runs in ONNX Runtime (double precision where the
converter supports it, else the float32 that scikit-learn's trees use
internally anyway); a linear classifier also gets a pure-Python single-row
path. A compiled model is kept only if it agrees with the pipeline on the
reference rows the caller passes (training.py passes every row of the
dataset, training and hold-out alike) and on random rows around them (with
missing values too for a bare XGBoost or LightGBM model, which takes them);
otherwise the version is served by scikit-learn and the reason is logged.

Training imports this module; the server imports only compiled_runtime.py,
which reads the bundle this writes (its format is described there).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from tabserve.compiled_runtime import Bundle, CompiledRunner, LinearForm, RowModel
from tabserve.inputs import Batch
from tabserve.registry.boosters import library_of
from tabserve.schema import FeatureSchema

log = logging.getLogger(__name__)

PROBABILITY_TOLERANCE = 1e-6
RANDOM_CHECK_ROWS = 100_000
ROW_CHECK_ROWS = 5_000  # the pure-Python row path is checked on a slice: it runs at Python speed
CATEGORICAL = "categorical features are served by scikit-learn"


@dataclass(frozen=True)
class CompileResult:
    bundle: bytes | None
    reason: str  # why it was or was not compiled, for the logs and the version record


@dataclass(frozen=True)
class _Parts:
    """What the bundle runs: imputation medians (NaN: keep missing), mean and scale, the classifier."""

    medians: np.ndarray
    mean: np.ndarray
    scale: np.ndarray
    classifier: Any

    @property
    def keeps_missing(self) -> bool:
        return bool(np.isnan(self.medians).all())


def _numeric_parts(pipeline: Any, schema: FeatureSchema) -> _Parts | str:
    """The fitted imputer, scaler and classifier, or the reason the pipeline is not a numeric shape
    this compiles: tabserve's prep + clf, or a bare XGBoost or LightGBM model."""
    if not schema.all_numeric:
        return CATEGORICAL
    width = len(schema.names)
    if library_of(pipeline) is not None and not hasattr(pipeline, "predict_proba"):
        return f"{type(pipeline).__name__} is served by its library (only classifiers are compiled)"
    if library_of(pipeline) is not None:  # takes missing values itself: nothing to impute or scale
        return _Parts(np.full(width, np.nan), np.zeros(width), np.ones(width), pipeline)
    prep = pipeline.named_steps.get("prep")
    transformers = getattr(prep, "transformers_", None)
    if not transformers or transformers[0][0] != "numeric" or list(transformers[0][2]) != schema.names:
        return "preprocessing is not the plain numeric shape"
    steps = transformers[0][1].named_steps
    mean, scale = _mean_scale(steps["scale"], width)
    medians = np.asarray(steps["impute"].statistics_, dtype=np.float64)
    return _Parts(medians, mean, scale, pipeline.named_steps["clf"])


def _convert(classifier: Any, width: int, dtype: str) -> bytes:
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType

    if library_of(classifier) is not None:
        register_boosted_converter(classifier)
        classifier = _unnamed(classifier)
    tensor_type = DoubleTensorType if dtype == "float64" else FloatTensorType
    model = convert_sklearn(
        classifier,
        initial_types=[("X", tensor_type([None, width]))],
        options={id(classifier): {"zipmap": False}},
        target_opset={"": 17, "ai.onnx.ml": 3},
    )
    return model.SerializeToString()


@dataclass(frozen=True)
class _Expected:
    """What scikit-learn answers for the check rows: worked out once, compared with every candidate."""

    labels: np.ndarray
    probabilities: np.ndarray

    @classmethod
    def of(cls, pipeline: Any, rows: np.ndarray, schema: FeatureSchema) -> _Expected:
        import pandas as pd

        # As the server passes rows: a model fitted on a bare array gets one.
        frame = pd.DataFrame(rows, columns=schema.names) if hasattr(pipeline, "feature_names_in_") else rows
        labels = np.asarray(schema.names_of(pipeline.predict(frame)), dtype=str)
        return cls(labels, pipeline.predict_proba(frame))

    def disagreement(self, got: np.ndarray, classes: list[str]) -> str:
        """Empty when ``got`` gives the same labels and probabilities within the tolerance."""
        count = len(got)
        labels = np.asarray(classes)[np.argmax(got, axis=1)]
        wrong = int((labels != self.labels[:count]).sum())
        if wrong:
            return f"{wrong} of {count} labels differ"
        gap = float(np.abs(got - self.probabilities[:count]).max())
        return f"probabilities differ by up to {gap:.2e}" if gap > PROBABILITY_TOLERANCE else ""


def compile_pipeline(pipeline: Any, schema: FeatureSchema, reference: np.ndarray | None) -> CompileResult:
    """Compile and check against ``pipeline`` on ``reference`` rows plus random rows around them.

    ``reference`` is None when the features are not all numeric (training keeps no rows then).
    """
    parts = _numeric_parts(pipeline, schema)
    if isinstance(parts, str):
        return CompileResult(None, parts)
    if reference is None:
        return CompileResult(None, "no reference rows to check a compiled model against")
    classifier, medians, mean, scale = parts.classifier, parts.medians, parts.mean, parts.scale
    check = np.vstack([reference, _random_rows(reference, RANDOM_CHECK_ROWS)])
    if parts.keeps_missing:  # the model's own handling of missing values must be kept too
        check = np.vstack([check, _with_holes(check[-ROW_CHECK_ROWS:])])
    expected = _Expected.of(pipeline, check, schema)
    linear = _linear_form(classifier)
    if linear is not None:
        row_model = RowModel(linear, medians, mean, scale)
        got = np.array([row_model.predict_row(row) for row in check[:ROW_CHECK_ROWS].tolist()])
        if expected.disagreement(got, schema.classes):
            linear = None  # keep ONNX Runtime for every request rather than serve a near miss
    failures = []
    # Double precision first; float32 next, which is what scikit-learn's trees compare in.
    for dtype in ("float64", "float32"):
        try:
            onnx_bytes = _convert(classifier, len(schema.names), dtype)
            bundle = Bundle(onnx_bytes, dtype, medians, mean, scale, schema.classes, linear).pack()
            got = CompiledRunner(bundle).predict_proba(Batch(len(check), check, None))
            disagreement = expected.disagreement(got, schema.classes)
        except Exception as exc:  # converters and the runtime raise many kinds for unsupported models
            disagreement = f"not supported ({str(exc).splitlines()[0][:120]})"
        if not disagreement:
            also = ", single rows in pure Python" if linear is not None else ""
            return CompileResult(
                bundle, f"compiled {type(classifier).__name__} for ONNX Runtime ({dtype}{also})"
            )
        failures.append(f"{dtype}: {disagreement}")
    return CompileResult(
        None, f"{type(classifier).__name__} not compiled, served by scikit-learn: {'; '.join(failures)}"
    )


def _linear_form(classifier: Any) -> LinearForm | None:
    """A linear classifier's probability rule, weights and intercepts, if it has that shape."""
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
    from sklearn.linear_model import LogisticRegression

    if not isinstance(classifier, LogisticRegression | LinearDiscriminantAnalysis):
        return None
    coef = np.asarray(classifier.coef_, dtype=np.float64)
    intercept = np.asarray(classifier.intercept_, dtype=np.float64)
    kind = "expit" if coef.shape[0] == 1 else "softmax"  # what predict_proba applies to the decision
    return LinearForm(kind, coef, intercept)


def _mean_scale(scaler: Any, width: int) -> tuple[np.ndarray, np.ndarray]:
    mean = scaler.mean_ if scaler.with_mean else np.zeros(width)
    scale = scaler.scale_ if scaler.with_std else np.ones(width)
    return np.asarray(mean, dtype=np.float64), np.asarray(scale, dtype=np.float64)


def _with_holes(rows: np.ndarray) -> np.ndarray:
    """``rows`` with about a fifth of their values missing (NaN), at seeded random places."""
    rng = np.random.default_rng(1)
    return np.where(rng.random(rows.shape) < 0.2, np.nan, rows)


def register_boosted_converter(classifier: Any) -> None:
    """Teach skl2onnx this XGBoost or LightGBM classifier's class, with onnxmltools's converter."""
    from skl2onnx import update_registered_converter
    from skl2onnx.common.shape_calculator import calculate_linear_classifier_output_shapes

    if library_of(classifier) == "xgboost":
        from onnxmltools.convert.xgboost.operator_converters.XGBoost import convert_xgboost as converter

        alias = "XGBoostXGBClassifier"
    else:
        from onnxmltools.convert.lightgbm.operator_converters.LightGbm import convert_lightgbm as converter

        alias = "LightGbmLGBMClassifier"
    options = {"nocl": [True, False], "zipmap": [True, False, "columns"]}
    update_registered_converter(
        type(classifier), alias, calculate_linear_classifier_output_shapes, converter, options=options
    )


def _unnamed(classifier: Any) -> Any:
    """An XGBoost classifier whose booster forgets its feature names (the converter reads only
    f0, f1, ...: the ONNX input is positional anyway); other models as they are."""
    if library_of(classifier) != "xgboost":
        return classifier
    import copy

    booster = classifier.get_booster().copy()
    booster.feature_names = None
    booster.feature_types = None
    unnamed = copy.copy(classifier)
    unnamed._Booster = booster
    return unnamed


def _random_rows(reference: np.ndarray, count: int) -> np.ndarray:
    low, high = np.nanmin(reference, axis=0), np.nanmax(reference, axis=0)
    margin = (high - low) * 0.25 + 1e-9
    rng = np.random.default_rng(0)
    return rng.uniform(low - margin, high + margin, size=(count, reference.shape[1]))
