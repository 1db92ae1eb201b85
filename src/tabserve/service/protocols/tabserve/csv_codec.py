"""CSV bodies for batch users: a header row of column names in, predictions out.

Kept apart from JSON handling so the JSON path never imports ``csv``-specific
logic, and without pandas so the serving process stays small. Columns the
model does not take are read as text and left out of the batch (named in
``Batch.ignored`` by the predict core); a header wider than the schema allows
is refused by ``check_csv_width`` before any of the body is parsed.
"""

from __future__ import annotations

import csv
import io
from typing import Any

import numpy as np

from tabserve.errors import InputError
from tabserve.inputs import TooManyColumnsError, check_width, max_columns, short_repr
from tabserve.schema import FeatureSchema
from tabserve.service.http.errors import MalformedBodyError

_QUOTES_PER_COLUMN = 4  # a header with more quote characters than this per allowed column is refused


def check_csv_width(body: bytes, schema: FeatureSchema) -> None:
    """Refuse a header row with more columns than ``max_columns(schema)``, reading only the header.

    Counts the commas outside quotes up to the first line break outside quotes, with
    ``bytes.find``/``count`` (C speed, no per-column Python work). A header with many
    quoted names costs one step per quote, so an absurd number of quotes is refused too.
    """
    limit = max_columns(schema)
    breaks = _LineBreaks(body)
    end = breaks.after(0)
    if body.find(b'"', 0, end) < 0:
        check_width(body.count(b",", 0, end) + 1, schema, "the CSV header row")
        return
    commas = quotes = pos = 0
    while True:
        quote = body.find(b'"', pos, end)
        if quote < 0:
            commas += body.count(b",", pos, end)
            break
        commas += body.count(b",", pos, quote)
        closing = body.find(b'"', quote + 1)
        quotes += 2
        if closing < 0 or commas + 1 > limit or quotes > _QUOTES_PER_COLUMN * limit:
            break  # an unclosed quote is worded by the parser; too wide is refused below
        pos = closing + 1
        if pos > end:  # the quoted name held a line break: the header goes on past it
            end = breaks.after(pos)
    if quotes > _QUOTES_PER_COLUMN * limit:
        raise TooManyColumnsError(
            f"the CSV header row has more than {_QUOTES_PER_COLUMN * limit} quote characters "
            f"for a limit of {limit} columns"
        )
    check_width(commas + 1, schema, "the CSV header row")


class _LineBreaks:
    """The next line break (\\n or \\r) at or after a position; each search resumes where the last
    left off, so walking a body costs one pass however often it is asked."""

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.found = {b"\n": -1, b"\r": -1}

    def after(self, start: int) -> int:
        ends = []
        for char, at in self.found.items():
            if 0 <= at < start or at == -1:
                at = self.body.find(char, start)
                self.found[char] = len(self.body) if at < 0 else at
            ends.append(self.found[char])
        return min(ends)


def read_csv_payload(body: bytes, schema: FeatureSchema) -> dict[str, Any]:
    """Turn a CSV body into the columnar JSON shape, numbers parsed for numeric columns
    (after ``check_csv_width``)."""
    check_csv_width(body, schema)
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise MalformedBodyError(f"the CSV body is not UTF-8 (byte {exc.start})") from None
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader, None)
        if not header:
            raise InputError("the CSV body is empty; send a header row of column names, then rows")
        header = [name.strip() for name in header]
        numeric = {f.name for f in schema.features if f.type == "numeric"}
        kinds = [name in numeric for name in header]
        data = []
        for i, record in enumerate(reader):
            if not record:
                continue
            if len(record) != len(header):
                raise InputError(
                    f"row {i}: expected {len(header)} values (one per header column), got {len(record)}"
                )
            cells = zip(record, kinds, header, strict=True)
            data.append([_cell(cell, is_number, i, name) for cell, is_number, name in cells])
    except csv.Error as exc:
        raise MalformedBodyError(f"the body is not valid CSV: {exc}") from None
    return {"columns": header, "data": data}


def _cell(cell: str, is_number: bool, row: int, column: str) -> Any:
    cell = cell.strip()
    if cell == "":
        return None
    if not is_number:
        return cell
    try:
        return float(cell)
    except ValueError:
        raise InputError(f"row {row}, column '{column}': expected a number, got {short_repr(cell)}") from None


def write_predictions_csv(labels: list[str], classes: list[str], probabilities: np.ndarray | None) -> bytes:
    """One line per input row: the label, then a probability column per class unless labels only."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    if probabilities is None:
        writer.writerow(["prediction"])
        writer.writerows([label] for label in labels)
    else:
        writer.writerow(["prediction", *(f"proba_{c}" for c in classes)])
        writer.writerows([label, *row] for label, row in zip(labels, probabilities.tolist(), strict=True))
    return out.getvalue().encode()
