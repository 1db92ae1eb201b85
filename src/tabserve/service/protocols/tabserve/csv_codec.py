"""CSV bodies for batch users: a header row of column names in, predictions out.

Kept apart from JSON handling so the JSON path never imports ``csv``-specific
logic, and without pandas so the serving process stays small.
"""

from __future__ import annotations

import csv
import io
from typing import Any

import numpy as np

from tabserve.errors import InputError
from tabserve.inputs import short_repr
from tabserve.schema import FeatureSchema
from tabserve.service.http.errors import MalformedBodyError


def read_csv_payload(body: bytes, schema: FeatureSchema) -> dict[str, Any]:
    """Turn a CSV body into the columnar JSON shape, numbers parsed for numeric columns."""
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
