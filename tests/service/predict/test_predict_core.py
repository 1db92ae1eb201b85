"""The predict core that every protocol adapter calls: the same checks whatever the wire format."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from tabserve.errors import InputError, NoModelError, NotFoundError
from tabserve.inputs import BatchTooLargeError
from tabserve.service.http.errors import lookup

SETOSA = [5.1, 3.8, 1.5, 0.3]
VIRGINICA = [6.9, 3.1, 5.4, 2.1]
NAMES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


def test_rows_matrix_and_columns_give_the_same_result(core):
    predictor = core.production()
    batches = [
        core.rows(predictor, {"instances": [SETOSA, VIRGINICA]}),
        core.matrix(predictor, np.array([SETOSA, VIRGINICA], dtype=np.float32)),
        core.columns(predictor, {name: [a, b] for name, a, b in zip(NAMES, SETOSA, VIRGINICA, strict=True)}),
    ]
    results = [core.predict(predictor, batch, protocol="test") for batch in batches]
    for result in results:
        assert (result.model, result.version) == ("iris", 1)
        assert result.labels == ["setosa", "virginica"]
        np.testing.assert_allclose(result.probabilities, results[0].probabilities, atol=1e-6)  # float32 in
    text = core.state.metrics.render().decode()
    assert 'tabserve_predictions_total{class="setosa",model="iris",protocol="test"} 3.0' in text
    assert core.predict(predictor, batches[0], labels_only=True).probabilities is None


def test_one_finite_row_takes_the_row_path_as_predict_does(core):
    """Every protocol's single-row answer is /predict's: the pure-Python row path, same numbers."""
    predictor = core.production()
    assert predictor.row_width == 4  # the iris model has a row path, or this test proves nothing
    result = core.predict(predictor, core.rows(predictor, {"instances": [VIRGINICA]}), protocol="test")
    assert result.labels == ["virginica"] and result.indices.tolist() == [2]
    assert result.probabilities.tolist() == [predictor.predict_row([float(v) for v in VIRGINICA])]
    assert core.predict(predictor, core.rows(predictor, [SETOSA]), labels_only=True).probabilities is None
    batch_path = predictor.predict(core.rows(predictor, {"instances": [VIRGINICA, VIRGINICA]}))
    np.testing.assert_allclose(result.probabilities[0], batch_path.probabilities[0], atol=1e-9)
    missing = core.predict(predictor, core.rows(predictor, [[None, 3.1, 5.4, 2.1]]), protocol="test")
    assert missing.labels == ["virginica"]  # a missing value goes the batch path, which imputes


@pytest.mark.parametrize(
    ("call", "error", "status", "message"),
    [
        (lambda c, p: c.matrix(p, np.ones((2, 3))), InputError, 422, "expected a [rows, 4] array"),
        (lambda c, p: c.matrix(p, np.ones((4, 4))), BatchTooLargeError, 413, "limit of 3 rows"),
        (
            lambda c, p: c.matrix(p, np.array([SETOSA, [1.0, np.inf, 1.0, 1.0]])),
            InputError,
            422,
            "row 1: expected finite numbers",
        ),
        (lambda c, p: c.matrix(p, np.ones((0, 4))), InputError, 422, "empty"),
        (
            lambda c, p: c.columns(p, {"sepal_length": [1.0], "petal_width": [1.0, 2.0]}),
            InputError,
            422,
            "same",
        ),
        (
            lambda c, p: c.columns(p, {n: [1.0] for n in NAMES[:3]}),
            InputError,
            422,
            "missing column(s) petal_width",
        ),
        (lambda c, p: c.rows(p, [SETOSA] * 4), BatchTooLargeError, 413, "limit of 3 rows"),
        (lambda c, p: c.rows(p, [5.1, "x", 1.5, 0.3]), InputError, 422, "column 'sepal_width'"),
        (
            lambda c, p: c.predict(p, c.matrix(p, np.array([SETOSA, SETOSA, [1e308, 1e308, -1e308, 1e308]]))),
            InputError,
            422,
            "row 2: values are outside the range the model can score",
        ),
    ],
    ids=[
        "shape",
        "too-many",
        "infinite",
        "empty",
        "ragged",
        "missing-column",
        "rows-too-many",
        "bad-cell",
        "unscorable",
    ],
)
def test_bad_input_is_a_domain_error_with_its_status(core, call, error, status, message):
    with pytest.raises(error) as caught:
        call(core, core.production())
    assert lookup(caught.value).status == status
    assert message in str(caught.value)


def test_models_and_versions_not_served_are_not_found(core):
    with pytest.raises(NotFoundError, match="model 'wine' is not served"):
        core.production("wine")
    with pytest.raises(NotFoundError):
        asyncio.run(core.version("iris", 9))
    assert asyncio.run(core.version("iris", 1)) is core.production("iris")  # production: no second load
    core.state.default.predictor = None
    with pytest.raises(NoModelError):
        core.production()
