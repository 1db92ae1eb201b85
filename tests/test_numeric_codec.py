"""The C-speed batch codec agrees with the general path, and steps aside for anything unusual."""

import csv
import io

import numpy as np
import orjson
import pytest

from tabserve.numeric_codec import csv_answer, parse_numeric_csv, parse_numeric_json

NAMES = ["a", "b", "c", "d"]


def _rows(count: int = 500) -> np.ndarray:
    rng = np.random.default_rng(1)
    return rng.normal(0, 1e3, size=(count, 4)) * rng.choice([1e-8, 1, 1e8], size=(count, 4))


@pytest.mark.parametrize(
    "make_body",
    [
        lambda rows: orjson.dumps({"columns": NAMES, "data": rows.tolist()}),
        lambda rows: orjson.dumps({"instances": rows.tolist()}),
        lambda rows: orjson.dumps(rows.tolist()),
        lambda rows: orjson.dumps(rows.tolist(), option=orjson.OPT_INDENT_2),
    ],
)
def test_json_matrix_is_exactly_what_orjson_reads(make_body):
    rows = _rows()
    matrix, labels_only = parse_numeric_json(make_body(rows), NAMES)
    assert labels_only is False
    assert np.array_equal(matrix, rows)  # orjson writes the shortest repr that reads back exactly


def test_columns_in_another_order_are_reordered_and_flag_is_read():
    body = b'{"columns": ["d", "c", "b", "a"], "data": [[4, 3, 2, 1]], "labels_only": true}'
    matrix, labels_only = parse_numeric_json(body, NAMES)
    assert matrix.tolist() == [[1, 2, 3, 4]]
    assert labels_only is True


@pytest.mark.parametrize(
    "body",
    [
        b"[5.1, 3.8, 1.5, 0.3]",  # a single bare row: the general path is fast enough
        b'{"instances": [[1, 2, 3, 4], [1, 2, 3]]}',  # ragged
        b'{"instances": [[1, 2, 3, 4], [1, 2, 3, null]]}',  # null means missing: general path
        b'{"instances": [[1, 2, 3, 4], [1, 2, "3", 4]]}',
        b'{"instances": [[1, 2, 3, 4]], "extra": 1}',
        b'{"columns": ["a", "b", "c", "x"], "data": [[1, 2, 3, 4]]}',
        b'{"columns": ["a", "a", "b", "c"], "data": [[1, 2, 3, 4]]}',
        b'{"data": [[1, 2, 3, 4]], "columns": ["a", "b", "c", "d"]}',
        b'{"instances": [[1, 2, 3, 4], [1e999, 2, 3, 4]]}',
        b'{"instances": [[1, 2, 3, 4]]',
        b"[[1, 2, 3, 4], [[1, 2, 3, 4]]]",
        b"[[]]",
        b'{"instances": [[1, 2, 3, 4], [], [5, 6, 7, 8]]}',  # an empty row must not vanish
        b"[[1, 2, 3, 4], []]",
        b"[[], [1, 2, 3, 4]]",
    ],
)
def test_anything_unusual_takes_the_general_path(body):
    assert parse_numeric_json(body, NAMES) is None


def test_csv_matrix_matches_the_csv_module_and_reorders_columns():
    rows = _rows()
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(["d", "c", "b", "a"])
    writer.writerows(rows[:, ::-1].tolist())
    matrix = parse_numeric_csv(text.getvalue().encode(), NAMES)
    assert np.array_equal(matrix, rows)


@pytest.mark.parametrize(
    "body",
    [b"a,b,c,d\n1,2,,4\n", b"a,b,c\n1,2,3\n", b"a,b,c,d\n1,2,3,x\n", b"a,b,c,d\n", b"a,b,c,d\n1,2,3,4,5\n"],
)
def test_csv_with_gaps_or_text_takes_the_general_path(body):
    assert parse_numeric_csv(body, NAMES) is None


def test_csv_answer_round_trips_through_the_csv_module():
    probabilities = np.random.default_rng(0).dirichlet([1, 1, 1], 50)
    classes = ["setosa", "versicolor", "virginica"]
    indices = probabilities.argmax(axis=1)
    rows = list(csv.reader(io.StringIO(csv_answer(indices, classes, probabilities).decode())))
    assert rows[0] == ["prediction", "proba_setosa", "proba_versicolor", "proba_virginica"]
    assert [r[0] for r in rows[1:]] == [classes[i] for i in indices]
    assert np.array_equal(np.array([r[1:] for r in rows[1:]], dtype=float), probabilities)
    labels_only = csv_answer(indices, classes, None).decode().splitlines()
    assert labels_only == ["prediction", *(classes[i] for i in indices)]


def test_csv_answer_defers_when_a_class_needs_quoting():
    assert csv_answer(np.array([0]), ["a,b", "c"], np.array([[0.5, 0.5]])) == b""
