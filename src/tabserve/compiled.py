"""Compile time of the serving fast path: a fitted all-numeric pipeline compiled for ONNX Runtime.

Imputation and scaling run in numpy with the exact operations scikit-learn
uses; the classifier runs in ONNX Runtime (double precision where the
converter supports it, else the float32 that scikit-learn's trees use
internally anyway); a linear classifier also gets a pure-Python single-row
path. A compiled model is kept only if it agrees with the pipeline on the
reference rows the caller passes (training.py passes every row of the
dataset, training and hold-out alike) and on random rows around them;
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


def _numeric_steps(pipeline: Any, schema: FeatureSchema) -> tuple[Any, Any] | str:
    """The fitted imputer and scaler, or the reason the pipeline is not the plain numeric shape."""
    if not schema.all_numeric:
        return CATEGORICAL
    prep = pipeline.named_steps.get("prep")
    transformers = getattr(prep, "transformers_", None)
    if not transformers or transformers[0][0] != "numeric" or list(transformers[0][2]) != schema.names:
        return "preprocessing is not the plain numeric shape"
    steps = transformers[0][1].named_steps
    return steps["impute"], steps["scale"]


def _convert(classifier: Any, width: int, dtype: str) -> bytes:
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType

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

        frame = pd.DataFrame(rows, columns=schema.names)
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
    steps = _numeric_steps(pipeline, schema)
    if isinstance(steps, str):
        return CompileResult(None, steps)
    if reference is None:
        return CompileResult(None, "no reference rows to check a compiled model against")
    imputer, scaler = steps
    classifier = pipeline.named_steps["clf"]
    check = np.vstack([reference, _random_rows(reference, RANDOM_CHECK_ROWS)])
    expected = _Expected.of(pipeline, check, schema)
    mean, scale = _mean_scale(scaler, len(schema.names))
    medians = np.asarray(imputer.statistics_, dtype=np.float64)
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


def _random_rows(reference: np.ndarray, count: int) -> np.ndarray:
    low, high = np.nanmin(reference, axis=0), np.nanmax(reference, axis=0)
    margin = (high - low) * 0.25 + 1e-9
    rng = np.random.default_rng(0)
    return rng.uniform(low - margin, high + margin, size=(count, reference.shape[1]))
