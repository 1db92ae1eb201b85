import math

import pytest

from tabserve.errors import InputError
from tabserve.inputs import BatchTooLargeError, parse_payload
from tabserve.schema import Feature, FeatureSchema

IRIS = FeatureSchema(
    [Feature(n, "numeric") for n in ("sepal_length", "sepal_width", "petal_length", "petal_width")],
    "species",
    ["setosa", "versicolor", "virginica"],
)
MIXED = FeatureSchema(
    [Feature("age", "numeric"), Feature("plan", "categorical", ["basic", "pro"])], "y", ["n", "y"]
)
ROW = [5.1, 3.8, 1.5, 0.3]
RECORD = dict(zip(IRIS.names, ROW, strict=True))


@pytest.mark.parametrize(
    "payload",
    [
        ROW,
        [ROW],
        {"instances": [ROW]},
        {"instances": [RECORD]},
        {"columns": IRIS.names, "data": [ROW]},
        {"columns": list(reversed(IRIS.names)), "data": [list(reversed(ROW))]},
    ],
)
def test_every_accepted_shape_gives_the_same_matrix(payload):
    batch = parse_payload(payload, IRIS, 100)
    assert batch.rows == 1
    assert batch.matrix.tolist() == [ROW]


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (
            [5.1, 3.8, 1.5],
            "row 0: expected 4 values (sepal_length, sepal_width, petal_length, petal_width), got 3",
        ),
        ([ROW, [1, 2, "x", 4]], "row 1, column 'petal_length': expected a number, got 'x'"),
        ([[1, 2, True, 4]], "row 0, column 'petal_length': expected a number, got True"),
        ([[1, 2, math.inf, 4]], "row 0, column 'petal_length': expected a finite number, got inf"),
        ({"instances": []}, "the batch is empty"),
        ([], "the batch is empty"),
        (
            {"instances": [{**RECORD, **{f"x{i}": 1 for i in range(101)}}]},
            "row 0 has 105 columns, more than the limit of 104",
        ),
        (
            {"instances": [{"sepal_length": 1}]},
            "row 0: missing column(s) sepal_width, petal_length, petal_width",
        ),
        ({"columns": ["a"], "data": [[1]]}, "columns: missing column(s)"),
        ({"columns": IRIS.names}, "columnar input needs both 'columns' and 'data'"),
        ({"rows": [ROW]}, "expected a list of values"),
        ("hello", "expected a JSON list or object, got str"),
        ({"instances": [ROW], "extra": 1}, "unknown field(s) 'extra' beside 'instances'"),
    ],
)
def test_bad_input_names_row_column_and_expectation(payload, message):
    with pytest.raises(InputError) as error:
        parse_payload(payload, IRIS, 100)
    assert message in str(error.value)


def test_errors_do_not_echo_long_input():
    huge = "x" * 10_000
    with pytest.raises(InputError) as error:
        parse_payload([[1, 2, huge, 4]], IRIS, 100)
    assert len(str(error.value)) < 200


def test_batch_over_the_limit_is_its_own_error():
    with pytest.raises(BatchTooLargeError, match="3 rows is more than the limit of 2"):
        parse_payload([ROW, ROW, ROW], IRIS, 2)


def test_null_numeric_is_missing_and_categories_become_strings():
    batch = parse_payload({"instances": [[None, "basic"], [30, 7], [40, None]]}, MIXED, 10)
    assert batch.matrix is None
    assert math.isnan(batch.columns["age"][0])
    assert batch.columns["plan"] == ["basic", "7", None]


def test_categorical_rejects_nested_values():
    with pytest.raises(InputError, match="row 0, column 'plan': expected a string or number"):
        parse_payload([[1, {"a": 1}]], MIXED, 10)
