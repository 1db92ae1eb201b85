"""The serve-time half of the fast path: read a compiled bundle and answer with it.

The lean server imports this module, never the compiler (tabserve.compiled,
which pulls in skl2onnx and scikit-learn). A bundle is an ``.npz`` of plain
arrays, read with ``allow_pickle=False`` so that loading it can never run code.

Bundle formats (the ``bundle_format`` array says which; a bundle without it is 1):

1. ``onnx`` (the classifier, uint8 bytes), ``dtype`` (its input precision),
   ``medians`` / ``mean`` / ``scale`` (imputer and scaler), ``classes``; may
   also hold format 2's linear part, written before the format was numbered.
2. Format 1 plus ``linear_kind`` ("", "softmax" or "expit"), ``coef`` and
   ``intercept``: the single-row path of a linear classifier ("" = none).

A bundle of a newer format than this module reads is refused with a
BundleFormatError, so the predictor serves the version with scikit-learn
instead of guessing.
"""

from __future__ import annotations

import io
import math
import operator
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from tabserve.errors import IntegrityError
from tabserve.inputs import Batch

BUNDLE_FORMAT = 2


class BundleFormatError(IntegrityError):
    """A compiled bundle this tabserve cannot read (newer format, or arrays missing)."""


@dataclass(frozen=True)
class LinearForm:
    """A linear classifier's probability rule ("softmax" or "expit"), weights and intercepts."""

    kind: str
    coef: np.ndarray
    intercept: np.ndarray


@dataclass(frozen=True)
class Bundle:
    """What a compiled version is made of, before packing or after reading."""

    onnx: bytes
    dtype: str
    medians: np.ndarray
    mean: np.ndarray
    scale: np.ndarray
    classes: list[str]
    linear: LinearForm | None

    def pack(self) -> bytes:
        """The bundle as ``.npz`` bytes in the current format."""
        linear = self.linear or LinearForm("", np.zeros((0, 0)), np.zeros(0))
        buffer = io.BytesIO()
        np.savez(
            buffer,
            bundle_format=np.array(BUNDLE_FORMAT),
            onnx=np.frombuffer(self.onnx, dtype=np.uint8),
            dtype=np.array(self.dtype),
            medians=np.asarray(self.medians, dtype=np.float64),
            mean=np.asarray(self.mean, dtype=np.float64),
            scale=np.asarray(self.scale, dtype=np.float64),
            classes=np.array(self.classes, dtype=str),
            linear_kind=np.array(linear.kind),
            coef=np.asarray(linear.coef, dtype=np.float64),
            intercept=np.asarray(linear.intercept, dtype=np.float64),
        )
        return buffer.getvalue()

    @classmethod
    def read(cls, data: bytes) -> Bundle:
        """Read any format up to BUNDLE_FORMAT; BundleFormatError for anything else."""
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
                found = {name: arrays[name] for name in arrays.files}
        except (ValueError, OSError) as exc:
            raise BundleFormatError(f"compiled bundle is not a readable .npz ({exc})") from None
        version = int(found.get("bundle_format", 1))
        if version > BUNDLE_FORMAT:
            raise BundleFormatError(
                f"compiled bundle format {version} is newer than this tabserve reads ({BUNDLE_FORMAT})"
            )
        missing = {"onnx", "dtype", "medians", "mean", "scale", "classes"} - set(found)
        if version == 2:
            missing |= {"linear_kind", "coef", "intercept"} - set(found)
        if missing:
            raise BundleFormatError(f"compiled bundle format {version} lacks {', '.join(sorted(missing))}")
        kind = str(found["linear_kind"]) if "linear_kind" in found else ""
        return cls(
            onnx=found["onnx"].tobytes(),
            dtype=str(found["dtype"]),
            medians=found["medians"],
            mean=found["mean"],
            scale=found["scale"],
            classes=[str(c) for c in found["classes"]],
            linear=LinearForm(kind, found["coef"], found["intercept"]) if kind else None,
        )


def _session(data: bytes) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1  # one request is tiny; threads only add latency
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])


class CompiledRunner:
    """Class probabilities from a compiled bundle; takes only all-numeric float batches."""

    probabilities = True

    def __init__(self, data: bytes) -> None:
        bundle = Bundle.read(data)
        self.session = _session(bundle.onnx)
        self.dtype = np.dtype(bundle.dtype)
        self.medians = bundle.medians
        self.mean = bundle.mean
        self.scale = bundle.scale
        self.input_name = self.session.get_inputs()[0].name
        self.outputs = ["probabilities"]
        self.row_model: RowModel | OnnxRow = (
            RowModel(bundle.linear, self.medians, self.mean, self.scale)
            if bundle.linear
            else OnnxRow(self.session, self.input_name, self.dtype, self.medians, self.mean, self.scale)
        )

    def predict_indices(self, batch: Batch) -> np.ndarray:
        """Each row's class position: the first most probable, as the batch path answers."""
        return np.argmax(self.predict_proba(batch), axis=1)

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


_mul = operator.mul
_FLOAT32_MAX = float(np.finfo(np.float32).max)


def _scaled(value: float, median: float, mean: float, scale: float) -> float:
    """One feature imputed (NaN: the median) and standardised."""
    return ((value if value == value else median) - mean) / scale


class OnnxRow:
    """One row through the compiled model with its input and output buffers bound once.

    A tree model's single row costs little in ONNX Runtime itself; what a plain
    ``session.run`` adds around it (a new input tensor, output names looked up,
    result arrays built) is a large part of the call. Here the row is written
    into a bound input buffer and the probabilities land in a bound output
    buffer. The arithmetic is the batch path's (impute, scale in double, then
    the model's input precision), so the answers are the same bits. A lock
    keeps the shared buffers to one caller at a time (the runtime releases the
    GIL while it runs).
    """

    joinable = True  # a model call: rows that arrive together are cheaper scored together

    def __init__(
        self,
        session: Any,
        input_name: str,
        dtype: np.dtype,
        medians: np.ndarray,
        mean: np.ndarray,
        scale: np.ndarray,
    ) -> None:
        import onnxruntime as ort

        width = len(mean)
        # A bare booster keeps missing values and takes raw features: nothing to impute or scale.
        self.plain = bool(np.isnan(medians).all() and not mean.any() and (scale == 1).all())
        self.medians, self.mean, self.scale = medians.tolist(), mean.tolist(), scale.tolist()
        self.width = width
        self.session = session
        self.input = np.zeros((1, width), dtype=dtype)
        self.narrow = self.input.dtype == np.float32
        probe = np.asarray(session.run(["probabilities"], {input_name: self.input})[0])
        self.output = np.zeros(probe.shape, dtype=probe.dtype)
        self.binding = session.io_binding()
        self._input_value = ort.OrtValue.ortvalue_from_numpy(self.input)  # shares the buffer's memory
        self.binding.bind_ortvalue_input(input_name, self._input_value)
        self.binding.bind_output(
            "probabilities", "cpu", 0, self.output.dtype, list(self.output.shape), self.output.ctypes.data
        )
        self.lock = threading.Lock()

    def predict_row(self, row: list[float]) -> list[float]:
        """Class probabilities for one row of floats or NaN (missing)."""
        if len(row) != self.width:
            raise ValueError(f"expected {self.width} values, got {len(row)}")
        values = row if self.plain else list(map(_scaled, row, self.medians, self.mean, self.scale))
        with self.lock:
            if self.narrow and not sum(map(abs, values)) <= _FLOAT32_MAX:  # NaN, or may overflow float32
                with np.errstate(over="ignore", invalid="ignore"):
                    self.input[0] = values
            else:
                self.input[0] = values
            self.session.run_with_iobinding(self.binding)
            return self.output[0].tolist()


class RowModel:
    """A linear pipeline for one row in plain Python floats: no array set-up for a single request.

    For one row, numpy's and ONNX Runtime's per-call overheads cost far more
    than the dozen multiply-adds of a linear model; this is the same
    arithmetic (impute, scale, decision, softmax or logistic) on floats.
    """

    joinable = False  # microseconds in Python: joining rows would only add work

    def __init__(self, linear: LinearForm, medians: np.ndarray, mean: np.ndarray, scale: np.ndarray) -> None:
        self.softmax = linear.kind == "softmax"
        self.coef = linear.coef.tolist()
        self.intercept = linear.intercept.tolist()
        self.medians, self.mean, self.scale = medians.tolist(), mean.tolist(), scale.tolist()
        self.weights = list(zip(self.coef, self.intercept, strict=True))

    def predict_row(self, row: list[float]) -> list[float]:
        """Class probabilities for one row of finite floats or NaN (missing)."""
        # map() over builtins, not comprehensions of generators: the same operations in the same
        # order (so the same bits), with less interpreter work per feature.
        if len(row) != len(self.scale):
            raise ValueError(f"expected {len(self.scale)} values, got {len(row)}")
        scaled = list(map(_scaled, row, self.medians, self.mean, self.scale))
        decision = [bias + sum(map(_mul, weights, scaled)) for weights, bias in self.weights]
        if self.softmax:
            top = max(decision)
            exps = [math.exp(d - top) for d in decision]
            total = sum(exps)
            return [e / total for e in exps]
        d = decision[0]
        positive = 1.0 / (1.0 + math.exp(-d)) if d >= 0 else math.exp(d) / (1.0 + math.exp(d))
        return [1.0 - positive, positive]
