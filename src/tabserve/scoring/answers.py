"""Score one chunk: the answers (keys, prediction, probabilities or interval, model, version), rejects."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from tabserve.errors import InputError
from tabserve.inputs import Batch
from tabserve.scoring.answer_columns import Answers
from tabserve.scoring.rows import Split, renumber, split_chunk

REJECT_COLUMNS = ["partition", "row", "reason"]
# Most chunks reject nothing: one empty frame for them all (never written, never changed).
_NO_REJECTS = pd.DataFrame({"partition": [], "row": np.empty(0, dtype=np.int64), "reason": []})


@dataclass(frozen=True)
class ChunkAnswers:
    answers: Answers
    rejects: pd.DataFrame


def _predict(predictor: Any, batch: Batch, interval: float | None) -> Any:
    if interval is None:
        return predictor.predict(batch)
    return predictor.predict(batch, interval=interval)


def _one_row(batch: Batch, i: int) -> Batch:
    if batch.matrix is not None:
        return Batch(1, batch.matrix[i : i + 1], None)
    assert batch.columns is not None
    return Batch(1, None, {name: values[i : i + 1] for name, values in batch.columns.items()})


def _predict_rows(
    predictor: Any, batch: Batch, interval: float | None, rows: np.ndarray
) -> tuple[list, list]:
    """Row by row, after the whole batch was refused: which rows score, and why the others do not."""
    results, rejects = [], []
    for i in range(batch.rows):
        try:
            results.append((i, _predict(predictor, _one_row(batch, i), interval)))
        except InputError as exc:
            rejects.append((int(rows[i]), renumber(str(exc), int(rows[i]))))
    return results, rejects


@lru_cache(maxsize=64)
def _labels(categories: tuple[Any, ...]) -> pd.CategoricalDtype:
    """A label set's dtype, checked once: every chunk's labels and model names share it."""
    return pd.CategoricalDtype(list(categories))


def _categorical(codes: np.ndarray, categories: Any) -> pd.Categorical:
    return pd.Categorical.from_codes(codes, dtype=_labels(tuple(categories)), validate=False)


def _columns(prediction: Any) -> dict[str, Any]:
    """The answer columns of one prediction: a label and probabilities, or a value and its interval."""
    values = getattr(prediction, "values", None)
    if values is not None:
        out: dict[str, Any] = {"prediction": np.asarray(values, dtype=np.float64)}
        interval = getattr(prediction, "interval", None)
        if interval is not None:
            out["lower"] = np.asarray(interval.lower, dtype=np.float64)
            out["upper"] = np.asarray(interval.upper, dtype=np.float64)
        return out
    # Categorical: written as a dictionary column in Parquet, plain labels in CSV and SQL, and cheap to build.
    out = {"prediction": _categorical(np.asarray(prediction.indices), prediction.classes)}
    if prediction.probabilities is not None:
        by_class = np.ascontiguousarray(prediction.probabilities.T)  # a contiguous array per column
        for j, label in enumerate(prediction.classes):
            out[f"proba_{label}"] = by_class[j]
    return out


def _concat(pieces: list[Any]) -> Any:
    if isinstance(pieces[0], pd.Categorical):
        return pd.Categorical(
            np.concatenate([np.asarray(p) for p in pieces]), categories=pieces[0].categories
        )
    return np.concatenate(pieces)


def _keys(frame: Any, key_columns: list[str], kept: np.ndarray, every: bool) -> dict[str, Any]:
    """The key columns of the kept rows, in the chunk's own kind (pandas arrays or Arrow arrays)."""
    if isinstance(frame, pd.DataFrame):
        return {n: frame[n].array if every else frame[n].array.take(kept) for n in key_columns}
    return {n: frame.column(n) if every else frame.column(n).take(kept) for n in key_columns}


def score_chunk(
    frame: Any,
    predictor: Any,
    partition_id: str,
    first_row: int,
    key_columns: list[str],
    interval: float | None = None,
    split: Split | None = None,
) -> ChunkAnswers:
    """Answers for the valid rows of ``frame`` (a DataFrame, or an Arrow record batch with ``split``;
    row ``first_row`` of its partition first) and the rejects.

    ``split`` is the chunk already validated (``split_chunk``), e.g. by the thread that read it.
    """
    if split is None:
        split = split_chunk(frame, predictor.schema, first_row)
    rejects = list(split.rejects)
    kept = split.kept
    columns: dict[str, Any] = {}
    if split.batch is not None:
        try:
            columns = _columns(_predict(predictor, split.batch, interval))
        except InputError:
            results, refused = _predict_rows(predictor, split.batch, interval, kept + first_row)
            rejects.extend(refused)
            kept = kept[[i for i, _ in results]]
            parts = [_columns(p) for _, p in results]
            columns = {name: _concat([p[name] for p in parts]) for name in parts[0]} if parts else {}
    # Whole columns (no per-chunk concat or column inserts); keys taken only when rows were dropped.
    data = _keys(frame, key_columns, kept, len(kept) == len(frame))
    data |= columns
    data["model"] = _categorical(np.zeros(len(kept), dtype=np.int8), (predictor.model,))
    data["version"] = np.full(len(kept), predictor.version, dtype=np.int64)
    if not rejects:
        return ChunkAnswers(Answers(data, len(kept), tuple(key_columns)), _NO_REJECTS)
    rejects.sort()
    rejected = pd.DataFrame(
        {
            "partition": [partition_id] * len(rejects),
            "row": np.asarray([r for r, _ in rejects], dtype=np.int64),
            "reason": [why for _, why in rejects],
        }
    )
    return ChunkAnswers(Answers(data, len(kept), tuple(key_columns)), rejected)
