"""The smoke prediction: a version proves it can answer before production points at it or a server
says it is ready.

A version keeps a few rows of its own input (``sample.json``: hold-out rows from training, the
``X_sample`` given to ``register``). The check runs them through a ``Predictor`` built exactly as a
server builds it (the compiled runner when there is one, else the library), on the batch path and,
when the model has one, the single-row path, and checks every output the predictor claims. A
version stored before sample rows were kept is checked on rows made from its drift profile (each
numeric feature at its minimum, median edge and maximum; each categorical at its known categories).

An output without a check of its own here is still produced (the prediction must not raise); each
output the predictor can give adds its check to ``OUTPUT_CHECKS``.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from tabserve.errors import ConflictError, TabserveError
from tabserve.inputs import Batch, parse_payload
from tabserve.predictor import Prediction, Predictor, read_checked_files
from tabserve.registry import ModelStore, VersionRecord

log = logging.getLogger(__name__)

SAMPLE_FILE = "sample.json"
INTERVAL_CHECK_COVERAGE = 0.5  # a coverage any stored hold-out (one residual or more) can give
SAMPLE_ROWS = 5
PROBABILITY_SUM_TOLERANCE = 1e-3  # a compiled model computes in float32


class SmokeTestError(ConflictError):
    """The version cannot answer its own sample rows: it must not serve (HTTP 409, CLI exit 1)."""


def sample_bytes(frame: Any, names: list[str]) -> bytes:
    """A few input rows to store with a version: lists in feature order, missing values as null."""
    rows = []
    for values in frame[names].head(SAMPLE_ROWS).itertuples(index=False):
        rows.append([_plain(value) for value in values])
    return json.dumps(rows).encode()


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return None
    return value if isinstance(value, int | float | str | bool) else str(value)


def sample_rows(record: VersionRecord, files: dict[str, bytes]) -> list[list[Any]]:
    """The version's stored sample rows, else rows made from its profile or its feature schema."""
    if "sample" in files:
        rows = json.loads(files["sample"])
        if isinstance(rows, list) and rows:
            return rows
    profile = json.loads(files["profile"]) if "profile" in files else {}
    features = profile.get("features", {}) if isinstance(profile, dict) else {}
    columns = [
        _column(feature, features.get(feature["name"], {})) for feature in record.feature_schema["features"]
    ]
    count = max(len(column) for column in columns)
    return [[column[i % len(column)] for column in columns] for i in range(count)]


def _column(feature: dict[str, Any], profiled: dict[str, Any]) -> list[Any]:
    if feature["type"] != "numeric":
        return list(feature.get("categories") or profiled.get("categories") or [None])
    edges = profiled.get("edges") or []
    points = [profiled.get("min"), edges[len(edges) // 2] if edges else None, profiled.get("max")]
    found = [float(p) for p in points if isinstance(p, int | float)]
    return found or [0.0]


def _labels(predictor: Predictor, batch: Batch, out: Prediction) -> str:
    if len(out.labels) != batch.rows:
        return f"{len(out.labels)} labels for {batch.rows} rows"
    unknown = sorted({str(label) for label in out.labels} - set(predictor.classes))
    return f"labels outside its classes: {', '.join(unknown[:3])}" if unknown else ""


def _probabilities(predictor: Predictor, batch: Batch, out: Prediction) -> str:
    matrix = out.probabilities
    if matrix is None:
        return "no probabilities"
    matrix = np.asarray(matrix, dtype=np.float64)
    if matrix.shape != (batch.rows, len(predictor.classes)):
        classes = len(predictor.classes)
        return f"probabilities of shape {list(matrix.shape)} for {batch.rows} rows and {classes} classes"
    if not np.isfinite(matrix).all():
        return "probabilities that are not finite"
    if np.abs(matrix.sum(axis=1) - 1.0).max() > PROBABILITY_SUM_TOLERANCE:
        return "probabilities that do not sum to 1"
    return ""


def _values(predictor: Predictor, batch: Batch, out: Prediction) -> str:
    values = None if out.values is None else np.asarray(out.values, dtype=np.float64)
    if values is None or values.shape != (batch.rows,):
        return f"no value per row for {batch.rows} rows"
    return "" if np.isfinite(values).all() else "values that are not finite"


def _intervals(predictor: Predictor, batch: Batch, out: Prediction) -> str:
    coverage = INTERVAL_CHECK_COVERAGE
    answer = predictor.predict(batch, interval=coverage)
    interval = answer.interval
    if interval is None:
        return "no interval"
    values = np.asarray(answer.values, dtype=np.float64)
    lower, upper = np.asarray(interval.lower), np.asarray(interval.upper)
    if not (np.isfinite(lower).all() and np.isfinite(upper).all()):
        return "intervals that are not finite"
    if not ((lower <= values) & (values <= upper)).all():
        return "intervals that do not hold their values"
    return ""


OUTPUT_CHECKS: dict[str, Callable[[Predictor, Batch, Prediction], str]] = {
    "labels": _labels,
    "probabilities": _probabilities,
    "values": _values,
    "intervals": _intervals,
}


def smoke_test(predictor: Predictor, rows: list[list[Any]]) -> None:
    """Predict ``rows`` as a server would and check every output; SmokeTestError naming the version."""
    try:
        problem = _problem(predictor, rows)
    except Exception as exc:  # whatever the model raises is the finding, not a crash of the caller
        problem = f"{type(exc).__name__}: {exc}"
    if problem:
        message = f"model '{predictor.model}' version {predictor.version} cannot predict: {problem}"
        raise SmokeTestError(message[:500])
    log.info(
        "%s version %d answered its smoke prediction (%s)",
        predictor.model,
        predictor.version,
        ", ".join(predictor.outputs),
    )


def _problem(predictor: Predictor, rows: list[list[Any]]) -> str:
    batch = parse_payload({"instances": rows}, predictor.schema, len(rows))
    out = predictor.predict(batch)
    for output in predictor.outputs:
        check = OUTPUT_CHECKS.get(output)
        problem = check(predictor, batch, out) if check is not None else ""
        if problem:
            return f"its answer has {problem}"
    if predictor.row_width is not None and batch.matrix is not None:
        single = predictor.predict_row(batch.matrix[0].tolist())
        if single is None or len(single) != len(predictor.classes) or not all(map(math.isfinite, single)):
            return "its single-row path gives no usable probabilities"
    return ""


def load_checked(registry: ModelStore, model: str, version: int) -> Predictor:
    """Load a version as a server does and prove it predicts its sample rows."""
    record = registry.get(model, version)
    files = read_checked_files(registry, record)
    return check_files(record, files, registry.trusted_types)


def check_files(record: VersionRecord, files: dict[str, bytes], trusted_types: tuple[str, ...]) -> Predictor:
    """The server's predictor for a version whose files are in hand, after its smoke prediction."""
    try:
        predictor = Predictor.from_files(record, files, trusted_types)
    except TabserveError:  # untrusted types, a damaged file: said as the registry says them
        raise
    except Exception as exc:
        raise SmokeTestError(
            f"model '{record.model}' version {record.version} cannot be loaded: {type(exc).__name__}: {exc}"[
                :500
            ]
        ) from None
    smoke_test(predictor, sample_rows(record, files))
    return predictor
