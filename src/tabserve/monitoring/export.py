"""The prediction log as a table: the rows a model answered since a time, for the next training set.

Features come out as columns under their own names (the schema of the
version that answered; versions with other features leave those cells
empty), then the prediction, each class's probability (a regressor's rows: the
predicted value, and the interval's coverage and ends when the call asked for
one), and where the row came from. The file is written beside its destination and renamed into place,
so a failed export never leaves half a file.
"""

from __future__ import annotations

import os
import re
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pandas as pd
import sqlalchemy as sa

from tabserve.errors import ConfigError
from tabserve.registry.prediction_table import predictions

FORMATS = (".csv", ".parquet")
META_COLUMNS = ("prediction", "logged_at", "model", "version", "request_id", "row")
INTERVAL_COLUMNS = ("interval_coverage", "interval_lower", "interval_upper")
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhdw])$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}


def parse_since(text: str, now: float | None = None) -> float:
    """A start time: a duration back from now (``90m``, ``24h``, ``7d``, ``2w``) or an ISO date or
    date-time (UTC unless it has an offset); the POSIX timestamp."""
    now = time.time() if now is None else now
    match = _DURATION.match(text.strip())
    if match:
        return now - float(match.group(1)) * _UNIT_S[match.group(2)]
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ConfigError(
            f"--since: {text[:40]!r} is neither a duration (e.g. 24h, 7d) nor an ISO date or date-time "
            "(e.g. 2026-11-01 or 2026-11-01T12:00:00Z)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def check_output(path: str) -> str:
    """The output format from the file name (``.csv`` or ``.parquet``), or a ConfigError saying so."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise ConfigError(f"-o: {Path(path).name[:60]!r} must end in .csv or .parquet")
    if suffix == ".parquet":
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise ConfigError(
                "-o: writing Parquet needs pyarrow (pip install 'tabserve[parquet]'); or write .csv"
            ) from None
    return suffix


def read_log(engine: sa.Engine, model: str, since: float) -> pd.DataFrame:
    """The logged rows of ``model`` at or after ``since``, oldest chunk first, one column per feature."""
    query = (
        sa.select(predictions.c.version, predictions.c.payload)
        .where(predictions.c.model == model, predictions.c.last_at >= since)
        .order_by(predictions.c.id)
    )
    records: list[dict[str, Any]] = []
    features: dict[str, None] = {}
    classes: dict[str, None] = {}
    intervals = False
    with engine.connect() as conn:
        for version, payload in conn.execute(query):
            chunk = orjson.loads(payload)
            names, labels = chunk["names"], chunk["classes"]
            clash = [
                name
                for name in names
                if name in META_COLUMNS or name in INTERVAL_COLUMNS or name.startswith("proba_")
            ]
            if clash:
                raise ConfigError(f"feature {clash[0][:40]!r} clashes with an export column; rename it")
            features.update(dict.fromkeys(names))
            classes.update(dict.fromkeys(labels))
            probability_names = [f"proba_{c}" for c in labels]
            regression = chunk.get("task") == "regression"
            for at, request_id, rows, indices, probabilities in chunk["calls"]:
                if at < since:
                    continue
                logged_at = datetime.fromtimestamp(at, UTC).isoformat(timespec="milliseconds")
                for i, row in enumerate(rows):
                    record = dict(zip(names, row, strict=True))
                    if regression:  # indices hold the values, probabilities the intervals
                        record["prediction"] = indices[i]
                        if probabilities is not None:
                            intervals = True
                            record["interval_coverage"] = probabilities["coverage"]
                            record["interval_lower"] = probabilities["lower"][i]
                            record["interval_upper"] = probabilities["upper"][i]
                    else:
                        record["prediction"] = labels[indices[i]]
                    if probabilities is not None and not regression:
                        record.update(zip(probability_names, probabilities[i], strict=True))
                    record.update(
                        logged_at=logged_at, model=model, version=version, request_id=request_id, row=i
                    )
                    records.append(record)
    columns = [*features, "prediction", *(f"proba_{c}" for c in classes)]
    columns += [*(INTERVAL_COLUMNS if intervals else ()), *META_COLUMNS[1:]]
    return pd.DataFrame.from_records(records, columns=columns)


def write_frame(frame: pd.DataFrame, path: str) -> None:
    """Write CSV or Parquet (by suffix) to a temporary file beside ``path``, then rename it into place."""
    target = Path(path)
    suffix = check_output(path)
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent or ".")
    os.close(handle)
    try:
        if suffix == ".csv":
            frame.to_csv(temporary, index=False)
        else:
            frame.to_parquet(temporary, index=False)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
