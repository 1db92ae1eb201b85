"""A loaded model version: its schema, and predictions for validated batches.

A classifier answers labels and class probabilities; a regressor answers values
and, when asked with a coverage, split-conformal intervals around them
(intervals.py) from the hold-out residuals stored with the version.

Size: the two runners (compiled, scikit-learn) and the predictor that picks
between them answer both tasks and every output a version claims; splitting
them apart would put one version's answering in several places.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from tabserve.errors import InputError, OutputUnavailableError
from tabserve.inputs import Batch
from tabserve.registry import PICTURE_KINDS, ModelStore, VersionRecord
from tabserve.registry.records import NO_PROBABILITIES
from tabserve.schema import FeatureSchema
from tabserve.versions import library_versions

log = logging.getLogger(__name__)

OUT_OF_RANGE = "row {row}: values are outside the range the model can score"


@dataclass(frozen=True)
class Interval:
    """Prediction intervals at a stated coverage: one lower and one upper end per row."""

    coverage: float
    lower: np.ndarray
    upper: np.ndarray


@dataclass(frozen=True)
class Prediction:
    labels: list[str]  # classification; empty for a regressor
    probabilities: np.ndarray | None  # rows x classes, columns in ``classes`` order
    classes: list[str]
    indices: np.ndarray  # each row's label as a position in ``classes``
    values: np.ndarray | None = None  # regression: one float per row
    interval: Interval | None = None  # regression, when a coverage was asked for


class RowPredictor(Protocol):
    """A single-row path: one row of floats (NaN = missing) in, class probabilities out.

    ``joinable``: the path is a model call (ONNX Runtime, a booster library), so concurrent rows
    are worth scoring together in one batch; False for arithmetic in Python, cheaper alone.
    """

    joinable: bool

    def predict_row(self, row: list[float]) -> list[float]: ...


class Runner(Protocol):
    """What actually computes class probabilities for a batch, and for one row if it can do that faster.

    A runner whose model has no probabilities (``probabilities`` False) answers ``predict_indices``
    instead: each row's class as a position in the schema's classes.
    """

    row_model: RowPredictor | None
    probabilities: bool

    def predict_proba(self, batch: Batch) -> np.ndarray: ...

    def predict_indices(self, batch: Batch) -> np.ndarray: ...


class SklearnRunner:
    """The fitted scikit-learn pipeline itself: slower, takes any model; no single-row path."""

    row_model: RowPredictor | None = None

    def __init__(self, pipeline: Any, schema: FeatureSchema) -> None:
        self.pipeline = pipeline
        self.schema = schema
        if schema.is_regression:
            if not hasattr(pipeline, "predict"):
                raise ValueError("a regression version's model has no predict method")
        else:
            model_classes = [str(c) for c in pipeline.classes_]
            if model_classes != schema.own_classes:
                raise ValueError(f"pipeline classes {model_classes} differ from schema {schema.own_classes}")
        # A model fitted on a bare array (in a notebook) is given one, so it never warns about names.
        self.by_name = hasattr(pipeline, "feature_names_in_")
        self.native = _native_lightgbm(pipeline)
        if self.native is not None and not schema.is_regression:
            from tabserve.lightgbm_row import lightgbm_row

            self.row_model = lightgbm_row(pipeline, len(schema.names))
        # SVC without probability=True, LinearSVC, RidgeClassifier, Perceptron: labels only.
        self.probabilities = hasattr(pipeline, "predict_proba")
        self._positions = {label: i for i, label in enumerate(schema.classes)}

    def predict_proba(self, batch: Batch) -> np.ndarray:
        if not self.probabilities:
            raise OutputUnavailableError(f"probabilities are {NO_PROBABILITIES}")
        if self.native is not None and batch.matrix is not None:
            return self.native(batch.matrix)
        return self.pipeline.predict_proba(self._input(batch))

    def predict_indices(self, batch: Batch) -> np.ndarray:
        """Each row's predicted class as a position in the schema's classes."""
        if self.native is not None and batch.matrix is not None:
            return np.argmax(self.native(batch.matrix), axis=1)
        labels = self.schema.names_of(self.pipeline.predict(self._input(batch)))
        positions = self._positions
        return np.fromiter((positions[str(label)] for label in labels), dtype=np.intp, count=len(labels))

    def predict_values(self, batch: Batch) -> np.ndarray:
        """A regressor's predictions as floats."""
        return np.asarray(self.pipeline.predict(self._input(batch)), dtype=np.float64).reshape(-1)

    def _input(self, batch: Batch) -> Any:
        """The batch as the pipeline was fitted on it: a named frame, or a bare array."""
        import pandas as pd

        from tabserve.features import categorical_column

        if batch.matrix is not None:
            frame = pd.DataFrame(batch.matrix, columns=self.schema.names)
        else:
            assert batch.columns is not None
            frame = pd.DataFrame(
                {
                    f.name: np.asarray(batch.columns[f.name], dtype=np.float64)
                    if f.type == "numeric"
                    else categorical_column(batch.columns[f.name])
                    for f in self.schema.features
                }
            )
        return frame if self.by_name else frame.to_numpy()


class Predictor:
    """One model version, ready to answer predictions."""

    def __init__(self, record: VersionRecord, runner: Runner, residuals: Any = None) -> None:
        """``residuals``: a regressor's ConformalResiduals (None: it has no intervals)."""
        self.record = record
        self.model = record.model
        self.version = record.version
        self.schema = FeatureSchema.from_dict(record.feature_schema)
        self.classes = self.schema.classes
        self.task = self.schema.task
        self.is_regression = self.schema.is_regression
        self.residuals = residuals
        self._class_array = np.asarray(self.classes, dtype=object)
        self.runner = runner
        self.probabilities = getattr(runner, "probabilities", True)
        # What this version answers; every surface shows and checks these.
        self.outputs: tuple[str, ...] = (
            (("values", "intervals") if residuals is not None else ("values",))
            if self.is_regression
            else (("labels", "probabilities") if self.probabilities else ("labels",))
        )
        self._row_model = runner.row_model
        # How many values a single row has when a single-row path exists, else None.
        self.row_width = len(self.schema.names) if self._row_model is not None else None
        # Whether that path is a model call worth sharing between concurrent rows (micro-batching).
        self.row_joinable = bool(getattr(self._row_model, "joinable", False))

    @classmethod
    def load(cls, registry: ModelStore, model: str, version: int | None = None) -> Predictor:
        """Load a version (default: the one a server should serve) from the registry."""
        if version is None:
            version = registry.serving_version(model)
        record = registry.get(model, version)
        return cls.from_files(record, read_checked_files(registry, record), registry.trusted_types)

    @classmethod
    def from_files(
        cls, record: VersionRecord, files: dict[str, bytes], trusted_types: tuple[str, ...]
    ) -> Predictor:
        """A version from its files already in hand (read and checked, or just written and hashed):
        the same runner a server builds for it."""
        _warn_on_library_drift(record)
        runner, how = _runner(record, files, trusted_types)
        log.info(
            "loaded %s version %d (%s), served by %s", record.model, record.version, record.estimator, how
        )
        return cls(record, runner, _residuals(files))

    def predict_row(self, row: list[float]) -> list[float] | None:
        """Class probabilities for one numeric row on the single-row path, or None if there is none."""
        if self._row_model is None:
            return None
        probabilities = self._row_model.predict_row(row)
        if not all(map(math.isfinite, probabilities)):
            raise InputError(OUT_OF_RANGE.format(row=0))
        return probabilities

    def require(self, output: str) -> None:
        """OutputUnavailableError (a 4xx) naming the version when a request asks for what it cannot give."""
        if output not in self.outputs:
            reason = NO_PROBABILITIES if output == "probabilities" else "not available"
            raise OutputUnavailableError(
                f"model '{self.model}' version {self.version}: {output} {reason}; it answers "
                f"{', '.join(self.outputs)}"
            )

    def predict(self, batch: Batch, labels_only: bool = False, interval: float | None = None) -> Prediction:
        """Labels and class probabilities (labels alone for a model without probabilities), or a
        regressor's values (and intervals at coverage ``interval``); values the model cannot score
        are an InputError, never NaN."""
        if self.is_regression:
            return self._predict_values(batch, interval)
        if interval is not None:
            raise InputError("interval: this model is a classifier; intervals are for regression models")
        if not self.probabilities:
            return self._predict_labels(batch)
        try:
            # Overflow is expected for absurd inputs and is caught just below as non-finite output.
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                probabilities = self.runner.predict_proba(batch)
        except ValueError as exc:  # the model's own input check
            raise InputError(f"the model cannot take this input: {exc}") from None
        finite = np.isfinite(probabilities)
        if not finite.all():  # one check over the flat array; rows are looked at only when it fails
            raise InputError(OUT_OF_RANGE.format(row=int(np.flatnonzero(~finite.all(axis=1))[0])))
        indices = np.argmax(probabilities, axis=1)
        labels = self._class_array[indices].tolist()
        return Prediction(labels, None if labels_only else probabilities, self.classes, indices)

    def _predict_labels(self, batch: Batch) -> Prediction:
        try:
            indices = self.runner.predict_indices(batch)
        except ValueError as exc:  # the model's own input check
            raise InputError(f"the model cannot take this input: {exc}") from None
        return Prediction(self._class_array[indices].tolist(), None, self.classes, indices)

    def check_interval(self, coverage: float) -> float:
        """The half-width at ``coverage``, or an InputError saying why there is none (before any work)."""
        if not self.is_regression:
            raise InputError("interval: this model is a classifier; intervals are for regression models")
        if self.residuals is None:
            raise InputError(
                f"interval: {self.model} version {self.version} has no hold-out residuals to build "
                "intervals from (register it with X_test and y_test)"
            )
        return self.residuals.half_width(coverage)

    def _predict_values(self, batch: Batch, coverage: float | None) -> Prediction:
        width = None if coverage is None else self.check_interval(coverage)
        try:
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                values = self.runner.predict_values(batch)  # type: ignore[attr-defined]
        except ValueError as exc:
            raise InputError(f"the model cannot take this input: {exc}") from None
        finite = np.isfinite(values)
        if not finite.all():
            raise InputError(OUT_OF_RANGE.format(row=int(np.flatnonzero(~finite)[0])))
        interval = None
        if width is not None and coverage is not None:
            interval = Interval(float(coverage), values - width, values + width)
        return Prediction([], None, [], _NO_INDICES, values, interval)


_NO_INDICES = np.empty(0, dtype=np.int64)


def _residuals(files: dict[str, bytes]) -> Any:
    """A regressor's conformal residuals from its checked file, or None when it has none."""
    if "residuals" not in files:
        return None
    import json

    from tabserve.intervals import ConformalResiduals

    return ConformalResiduals(json.loads(files["residuals"]))


def _native_lightgbm(model: Any) -> Any:
    """For a bare LightGBM classifier, its booster's own predict on a float matrix: the numbers
    ``predict_proba`` gives, without the wrapper's per-call input checks (most of a row's cost)."""
    from tabserve.registry.boosters import library_of

    if library_of(model) != "lightgbm" or callable(model.objective) or not hasattr(model, "predict_proba"):
        return None
    booster, best = model.booster_, model.best_iteration_
    last = best if best and best > 0 else None

    def predict(matrix: np.ndarray) -> np.ndarray:
        found = booster.predict(matrix, num_iteration=last, num_threads=1)
        return found if found.ndim == 2 else np.column_stack([1.0 - found, found])

    return predict


def read_checked_files(registry: ModelStore, record: VersionRecord) -> dict[str, bytes]:
    """Every model file of a version by kind, each checked against its sha256: not only the one the
    runner reads, since a damaged file must stop a load even if this server would not use it.
    Pictures are not the model: they are checked when one is served."""
    kinds = [kind for kind in record.artifacts if kind not in PICTURE_KINDS]
    return {kind: registry.read_file(record, kind) for kind in kinds}


def _runner(
    record: VersionRecord, files: dict[str, bytes], trusted_types: tuple[str, ...]
) -> tuple[Runner, str]:
    """The compiled runner if the version has one this tabserve reads, else scikit-learn; and which."""
    from tabserve.registry import model_from_files

    why_not = record.metrics.get("serving", "no compiled model stored")
    if "compiled" in files:
        from tabserve.compiled_runtime import BundleFormatError, CompiledRunner

        try:
            return CompiledRunner(files["compiled"]), "ONNX Runtime"
        except BundleFormatError as exc:
            why_not = str(exc)
    pipeline = model_from_files(record, files, trusted_types)
    runner = SklearnRunner(pipeline, FeatureSchema.from_dict(record.feature_schema))
    return runner, f"scikit-learn ({why_not})"


def _warn_on_library_drift(record: VersionRecord) -> None:
    now = library_versions()
    for name in ("scikit-learn", "numpy"):
        then = record.libraries.get(name)
        if then and now.get(name) and then != now[name]:
            log.warning(
                "%s version %d was trained with %s %s; this process has %s",
                record.model,
                record.version,
                name,
                then,
                now[name],
            )
