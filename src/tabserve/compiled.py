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
from dataclasses import dataclass
from typing import Any

import numpy as np

from tabserve.inputs import Batch
from tabserve.schema import FeatureSchema

log = logging.getLogger(__name__)

PROBABILITY_TOLERANCE = 1e-6
RANDOM_CHECK_ROWS = 100_000


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


def compile_pipeline(pipeline: Any, schema: FeatureSchema, reference: np.ndarray) -> CompileResult:
    """Compile and check against ``pipeline`` on ``reference`` rows plus random rows around them."""
    steps = _numeric_steps(pipeline, schema)
    if isinstance(steps, str):
        return CompileResult(None, steps)
    imputer, scaler = steps
    classifier = pipeline.named_steps["clf"]
    check = np.vstack([reference, _random_rows(reference, RANDOM_CHECK_ROWS)])
    failures = []
    # Double precision first; float32 next, which is what scikit-learn's trees compare in.
    for dtype in ("float64", "float32"):
        try:
            bundle = _pack(_convert(classifier, len(schema.names), dtype), dtype, imputer, scaler, schema)
            disagreement = _disagreement(pipeline, CompiledRunner(bundle), check, schema)
        except Exception as exc:  # converters and the runtime raise many kinds for unsupported models
            disagreement = f"not supported ({str(exc).splitlines()[0][:120]})"
        if not disagreement:
            return CompileResult(bundle, f"compiled {type(classifier).__name__} for ONNX Runtime ({dtype})")
        failures.append(f"{dtype}: {disagreement}")
    return CompileResult(
        None, f"{type(classifier).__name__} not compiled, served by scikit-learn: {'; '.join(failures)}"
    )


def _random_rows(reference: np.ndarray, count: int) -> np.ndarray:
    low, high = np.nanmin(reference, axis=0), np.nanmax(reference, axis=0)
    margin = (high - low) * 0.25 + 1e-9
    rng = np.random.default_rng(0)
    return rng.uniform(low - margin, high + margin, size=(count, reference.shape[1]))


def _disagreement(pipeline: Any, runner: CompiledRunner, rows: np.ndarray, schema: FeatureSchema) -> str:
    import pandas as pd

    frame = pd.DataFrame(rows, columns=schema.names)
    expected_proba = pipeline.predict_proba(frame)
    expected_labels = pipeline.predict(frame).astype(str)
    got = runner.predict_proba(Batch(len(rows), rows, None))
    labels = np.asarray(schema.classes)[np.argmax(got, axis=1)]
    wrong = int((labels != expected_labels).sum())
    if wrong:
        return f"{wrong} of {len(rows)} labels differ"
    gap = float(np.abs(got - expected_proba).max())
    if gap > PROBABILITY_TOLERANCE:
        return f"probabilities differ by up to {gap:.2e}"
    return ""


def _pack(onnx_bytes: bytes, dtype: str, imputer: Any, scaler: Any, schema: FeatureSchema) -> bytes:
    buffer = io.BytesIO()
    np.savez(
        buffer,
        onnx=np.frombuffer(onnx_bytes, dtype=np.uint8),
        dtype=np.array(dtype),
        medians=np.asarray(imputer.statistics_, dtype=np.float64),
        mean=np.asarray(scaler.mean_ if scaler.with_mean else 0.0, dtype=np.float64),
        scale=np.asarray(scaler.scale_ if scaler.with_std else 1.0, dtype=np.float64),
        classes=np.array(schema.classes, dtype=str),
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
            self.classes = [str(c) for c in arrays["classes"]]
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
