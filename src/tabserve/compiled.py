"""The serving fast path: a fitted all-numeric pipeline compiled for ONNX Runtime.

Imputation and scaling run in numpy with the exact operations scikit-learn
uses; the classifier runs in ONNX Runtime (double precision where the
converter supports it, else the float32 that scikit-learn's trees use
internally anyway). A compiled model is kept only if it agrees with the
pipeline on the hold-out and on random rows; otherwise the version is served
by scikit-learn and the reason is logged.

The bundle is an ``.npz`` of plain arrays (loaded with ``allow_pickle=False``),
so reading it can never run code.
"""

from __future__ import annotations

import io
import logging
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from tabserve.inputs import Batch
from tabserve.schema import FeatureSchema

log = logging.getLogger(__name__)

PROBABILITY_TOLERANCE = 1e-6
RANDOM_CHECK_ROWS = 100_000
ROW_CHECK_ROWS = 5_000  # the pure-Python row path is checked on a slice: it runs at Python speed


@dataclass(frozen=True)
class CompileResult:
    bundle: bytes | None
    reason: str  # why it was or was not compiled, for the logs and the version record


def _numeric_steps(pipeline: Any, schema: FeatureSchema) -> tuple[Any, Any] | str:
    """The fitted imputer and scaler, or the reason the pipeline is not the plain numeric shape."""
    if not schema.all_numeric:
        return "categorical features are served by scikit-learn"
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


def _session(data: bytes) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1  # one request is tiny; threads only add latency
    options.inter_op_num_threads = 1
    return ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])


@dataclass(frozen=True)
class _Expected:
    """What scikit-learn answers for the check rows: worked out once, compared with every candidate."""

    labels: np.ndarray
    probabilities: np.ndarray

    @classmethod
    def of(cls, pipeline: Any, rows: np.ndarray, schema: FeatureSchema) -> _Expected:
        import pandas as pd

        frame = pd.DataFrame(rows, columns=schema.names)
        return cls(pipeline.predict(frame).astype(str), pipeline.predict_proba(frame))

    def disagreement(self, got: np.ndarray, classes: list[str]) -> str:
        """Empty when ``got`` gives the same labels and probabilities within the tolerance."""
        count = len(got)
        labels = np.asarray(classes)[np.argmax(got, axis=1)]
        wrong = int((labels != self.labels[:count]).sum())
        if wrong:
            return f"{wrong} of {count} labels differ"
        gap = float(np.abs(got - self.probabilities[:count]).max())
        return f"probabilities differ by up to {gap:.2e}" if gap > PROBABILITY_TOLERANCE else ""


def compile_pipeline(pipeline: Any, schema: FeatureSchema, reference: np.ndarray) -> CompileResult:
    """Compile and check against ``pipeline`` on ``reference`` rows plus random rows around them."""
    steps = _numeric_steps(pipeline, schema)
    if isinstance(steps, str):
        return CompileResult(None, steps)
    imputer, scaler = steps
    classifier = pipeline.named_steps["clf"]
    check = np.vstack([reference, _random_rows(reference, RANDOM_CHECK_ROWS)])
    expected = _Expected.of(pipeline, check, schema)
    linear = _linear_form(classifier)
    if linear is not None:
        mean, scale = _mean_scale(scaler, len(schema.names))
        row_model = RowModel(*linear, imputer.statistics_, mean, scale)
        got = np.array([row_model.predict_row(row) for row in check[:ROW_CHECK_ROWS].tolist()])
        if expected.disagreement(got, schema.classes):
            linear = None  # keep ONNX Runtime for every request rather than serve a near miss
    failures = []
    # Double precision first; float32 next, which is what scikit-learn's trees compare in.
    for dtype in ("float64", "float32"):
        try:
            onnx_bytes = _convert(classifier, len(schema.names), dtype)
            bundle = _pack(onnx_bytes, dtype, imputer, scaler, schema, linear)
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


def _linear_form(classifier: Any) -> tuple[str, np.ndarray, np.ndarray] | None:
    """A linear classifier's probability rule, weights and intercepts, if it has that shape."""
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
    from sklearn.linear_model import LogisticRegression

    if not isinstance(classifier, LogisticRegression | LinearDiscriminantAnalysis):
        return None
    coef = np.asarray(classifier.coef_, dtype=np.float64)
    intercept = np.asarray(classifier.intercept_, dtype=np.float64)
    kind = "expit" if coef.shape[0] == 1 else "softmax"  # what predict_proba applies to the decision
    return kind, coef, intercept


def _mean_scale(scaler: Any, width: int) -> tuple[np.ndarray, np.ndarray]:
    mean = scaler.mean_ if scaler.with_mean else np.zeros(width)
    scale = scaler.scale_ if scaler.with_std else np.ones(width)
    return np.asarray(mean, dtype=np.float64), np.asarray(scale, dtype=np.float64)


def _random_rows(reference: np.ndarray, count: int) -> np.ndarray:
    low, high = np.nanmin(reference, axis=0), np.nanmax(reference, axis=0)
    margin = (high - low) * 0.25 + 1e-9
    rng = np.random.default_rng(0)
    return rng.uniform(low - margin, high + margin, size=(count, reference.shape[1]))


def _pack(
    onnx_bytes: bytes,
    dtype: str,
    imputer: Any,
    scaler: Any,
    schema: FeatureSchema,
    linear: tuple[str, np.ndarray, np.ndarray] | None,
) -> bytes:
    buffer = io.BytesIO()
    mean, scale = _mean_scale(scaler, len(schema.names))
    kind, coef, intercept = linear if linear is not None else ("", np.zeros((0, 0)), np.zeros(0))
    np.savez(
        buffer,
        onnx=np.frombuffer(onnx_bytes, dtype=np.uint8),
        dtype=np.array(dtype),
        medians=np.asarray(imputer.statistics_, dtype=np.float64),
        mean=mean,
        scale=scale,
        classes=np.array(schema.classes, dtype=str),
        linear_kind=np.array(kind),
        coef=coef,
        intercept=intercept,
    )
    return buffer.getvalue()


class CompiledRunner:
    """Class probabilities from a compiled bundle; takes only all-numeric float batches."""

    def __init__(self, bundle: bytes) -> None:
        with np.load(io.BytesIO(bundle), allow_pickle=False) as arrays:
            self.session = _session(arrays["onnx"].tobytes())
            self.dtype = np.dtype(str(arrays["dtype"]))
            self.medians = arrays["medians"]
            self.mean = arrays["mean"]
            self.scale = arrays["scale"]
            # Bundles written before the row path existed have no linear part.
            kind = str(arrays["linear_kind"]) if "linear_kind" in arrays.files else ""
            self.row_model = (
                RowModel(kind, arrays["coef"], arrays["intercept"], self.medians, self.mean, self.scale)
                if kind
                else None
            )
        self.input_name = self.session.get_inputs()[0].name
        self.outputs = ["probabilities"]

    def predict_proba(self, batch: Batch) -> np.ndarray:
        matrix = batch.matrix
        assert matrix is not None, "the compiled path takes all-numeric batches only"
        missing = np.isnan(matrix)
        if missing.any():
            matrix = np.where(missing, self.medians, matrix)
        scaled = (matrix - self.mean) / self.scale
        probabilities = self.session.run(
            self.outputs, {self.input_name: scaled.astype(self.dtype, copy=False)}
        )
        return np.asarray(probabilities[0], dtype=np.float64)


class RowModel:
    """A linear pipeline for one row in plain Python floats: no array set-up for a single request.

    For one row, numpy's and ONNX Runtime's per-call overheads cost far more
    than the dozen multiply-adds of a linear model; this is the same
    arithmetic (impute, scale, decision, softmax or logistic) on floats.
    """

    def __init__(
        self,
        kind: str,
        coef: np.ndarray,
        intercept: np.ndarray,
        medians: np.ndarray,
        mean: np.ndarray,
        scale: np.ndarray,
    ) -> None:
        self.softmax = kind == "softmax"
        self.coef = coef.tolist()
        self.intercept = intercept.tolist()
        self.prepare = list(zip(medians.tolist(), mean.tolist(), scale.tolist(), strict=True))

    def predict_row(self, row: list[float]) -> list[float]:
        """Class probabilities for one row of finite floats or NaN (missing)."""
        scaled = [
            ((value if value == value else median) - mean) / scale
            for value, (median, mean, scale) in zip(row, self.prepare, strict=True)
        ]
        decision = [
            bias + sum(w * x for w, x in zip(weights, scaled, strict=True))
            for weights, bias in zip(self.coef, self.intercept, strict=True)
        ]
        if self.softmax:
            top = max(decision)
            exps = [math.exp(d - top) for d in decision]
            total = sum(exps)
            return [e / total for e in exps]
        d = decision[0]
        positive = 1.0 / (1.0 + math.exp(-d)) if d >= 0 else math.exp(d) / (1.0 + math.exp(d))
        return [1.0 - positive, positive]
