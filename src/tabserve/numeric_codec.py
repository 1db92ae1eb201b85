"""C-speed parsing and writing of all-numeric batches, for large predict requests.

Turning a 10,000-row JSON body into Python lists costs more than predicting
it. When every feature is numeric and the body has one of the usual shapes,
numpy's C parser reads the rows straight into a float matrix, checking that
every row has the same width. Anything unusual (nulls, strings, another key
order, a ragged row) returns None, and the caller takes the general path,
which gives the precise error message; so this path never decides an error.
"""

from __future__ import annotations

import io
import re
import warnings

import numpy as np
import orjson

_WHITESPACE = b" \t\r\n"
_NUMERIC_BYTES = b"0123456789.eE+-,[]"
_FLAG = rb'(?:\s*,\s*"labels_only"\s*:\s*(?P<flag>true|false))?'
_SHAPES = (
    re.compile(
        rb'^\s*\{\s*"columns"\s*:\s*(?P<columns>\[[^\[\]]*\])\s*,\s*"data"\s*:\s*(?P<rows>\[.*\])'
        + _FLAG
        + rb"\s*\}\s*$",
        re.S,
    ),
    re.compile(rb'^\s*\{\s*"instances"\s*:\s*(?P<rows>\[.*\])' + _FLAG + rb"\s*\}\s*$", re.S),
    re.compile(rb"^\s*(?P<rows>\[\s*\[.*\])\s*$", re.S),
)


def _matrix_from_lines(lines: bytes, width: int) -> np.ndarray | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            matrix = np.loadtxt(io.BytesIO(lines), delimiter=",", dtype=np.float64, ndmin=2)
    except (ValueError, Warning):
        return None
    if matrix.shape[1] != width or matrix.shape[0] == 0 or not np.isfinite(matrix).all():
        return None
    return matrix


def json_rows_matrix(rows: bytes, width: int) -> np.ndarray | None:
    """``[[1,2],[3,4]]`` as a float matrix, or None if it is anything but plain numbers."""
    compact = rows.translate(None, _WHITESPACE)
    if not (compact.startswith(b"[[") and compact.endswith(b"]]")):
        return None
    if compact.translate(None, _NUMERIC_BYTES):
        return None  # letters, quotes, nulls: not plain numbers
    lines = compact[2:-2].replace(b"],[", b"\n")
    if b"[" in lines or b"]" in lines:
        return None
    matrix = _matrix_from_lines(lines, width)
    # numpy skips blank lines, so an empty row [] would vanish: the counts must agree.
    if matrix is None or len(matrix) != lines.count(b"\n") + 1:
        return None
    return matrix


def parse_numeric_json(body: bytes, names: list[str]) -> tuple[np.ndarray, bool] | None:
    """A JSON predict body as (matrix in ``names`` order, labels_only), or None to take the general path."""
    for shape in _SHAPES:
        found = shape.match(body)
        if found is None:
            continue
        order = None
        groups = found.groupdict()
        if groups.get("columns") is not None:
            try:
                columns = orjson.loads(groups["columns"])
            except orjson.JSONDecodeError:
                return None
            if type(columns) is not list or len(columns) != len(names):
                return None  # extra or missing columns: the general path ignores or names them
            if columns != names:
                if sorted(columns) != sorted(names) or len(set(columns)) != len(columns):
                    return None
                order = [columns.index(name) for name in names]
        matrix = json_rows_matrix(groups["rows"], len(names))
        if matrix is None:
            return None
        if order is not None:
            matrix = np.ascontiguousarray(matrix[:, order])
        return matrix, groups.get("flag") == b"true"
    return None


def parse_numeric_csv(body: bytes, names: list[str]) -> np.ndarray | None:
    """A CSV body (header, then rows of numbers) as a matrix in ``names`` order, or None."""
    header, _, rest = body.partition(b"\n")
    columns = [c.strip().strip('"') for c in header.decode("utf-8-sig", "replace").split(",")]
    if sorted(columns) != sorted(names) or len(set(columns)) != len(columns):
        return None
    if not rest.strip() or rest.translate(None, b"0123456789.eE+-,\r\n \t"):
        return None
    matrix = _matrix_from_lines(rest.replace(b"\r", b""), len(names))
    if matrix is None:
        return None
    if columns != names:
        matrix = np.ascontiguousarray(matrix[:, [columns.index(name) for name in names]])
    return matrix


def csv_answer(label_indices: np.ndarray, classes: list[str], probabilities: np.ndarray | None) -> bytes:
    """``prediction,proba_<class>...`` rows, built with orjson's float formatting and C-level joins."""
    if any(_needs_quoting(c) for c in classes):
        return b""  # caller writes it with the csv module instead
    header = ",".join(["prediction", *(f"proba_{c}" for c in classes)]).encode()
    if probabilities is None:
        labels = np.asarray([c.encode() for c in classes], dtype=object)[label_indices].tolist()
        return b"prediction\n" + b"\n".join(labels) + b"\n"
    # "\n<label>," prefixes and probability rows, interleaved by slice assignment and joined once:
    # no per-row concatenation or iterator chain.
    prefixes = np.asarray([b"\n" + c.encode() + b"," for c in classes], dtype=object)
    encoded = orjson.dumps(
        np.ascontiguousarray(probabilities, dtype=np.float64), option=orjson.OPT_SERIALIZE_NUMPY
    )
    rows = encoded[2:-2].split(b"],[")
    parts: list[bytes] = [b""] * (2 * len(rows))
    parts[0::2] = prefixes[label_indices].tolist()
    parts[1::2] = rows
    return header + b"".join(parts) + b"\n"


def _needs_quoting(text: str) -> bool:
    return any(ch in text for ch in ',"\n\r')
