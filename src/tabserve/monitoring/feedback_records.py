"""Ground-truth records off the wire: ``{"id", "actual"}`` as JSON, JSON lines or CSV.

A body that cannot be read at all (not JSON, a CSV without an ``id`` and an
``actual`` column) is an ``InputError``; a single bad record inside a readable
body is not: it is passed on as None, and the feedback answer counts it.
"""

from __future__ import annotations

import csv
import io
from typing import Any, NamedTuple

import orjson

from tabserve.errors import InputError

MAX_RECORDS = 100_000
JSON_LINES = ("application/x-ndjson", "application/jsonl")
SHAPE = 'send {"id": ..., "actual": ...} records: a JSON list or object, JSON lines, or CSV with id,actual'


class Record(NamedTuple):
    """One record: the id and the actual outcome as sent (a CSV cell is text)."""

    id: Any
    actual: Any
    from_text: bool = False


def read_records(body: bytes, media: str) -> list[Record | None]:
    """The records of a body of type ``media`` (JSON, JSON lines or CSV); None for a malformed record."""
    if not body.strip():
        raise InputError(f"the body is empty; {SHAPE}")
    if media == "text/csv":
        records = _csv(body)
    elif media in JSON_LINES:
        records = [_record(_line(line)) for line in body.splitlines() if line.strip()]
    else:
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise InputError(f"the body is not valid JSON; {SHAPE}") from None
        if isinstance(payload, dict):
            payload = [payload]
        if not isinstance(payload, list):
            raise InputError(f"expected a JSON list or object; {SHAPE}")
        records = [_record(item) for item in payload]
    if len(records) > MAX_RECORDS:
        raise InputError(f"{len(records)} records is more than {MAX_RECORDS} at once; send them in parts")
    return records


def _line(line: bytes) -> Any:
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:
        return None


def _record(item: Any) -> Record | None:
    if type(item) is not dict or "id" not in item or "actual" not in item:
        return None
    return Record(item["id"], item["actual"])


def _csv(body: bytes) -> list[Record | None]:
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError("the CSV is not UTF-8 text") from None
    reader = csv.reader(io.StringIO(text))
    header = [name.strip() for name in next(reader, [])]
    missing = [name for name in ("id", "actual") if name not in header]
    if missing:
        raise InputError(f"the CSV header has no {' or '.join(missing)} column; {SHAPE}")
    at_id, at_actual = header.index("id"), header.index("actual")
    width = max(at_id, at_actual)
    return [
        Record(row[at_id].strip(), row[at_actual], from_text=True) if len(row) > width else None
        for row in reader
        if row
    ]
