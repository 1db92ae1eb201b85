"""Large numeric batches take numpy's parser; their answers equal the general path's.

Each test first checks that the body it sends is one the handler gives to the
numeric codec (numeric schema, at least NUMERIC_CODEC_MIN_BYTES, a shape the
codec parses) and that its general-path twin is not, so the comparison is
between the two paths and not the general path with itself.
"""

from __future__ import annotations

import numpy as np
import orjson
import pytest

from tests.support.prediction_ids import masked_json

IRIS_COLUMNS = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


def _rows(count: int) -> np.ndarray:
    rng = np.random.default_rng(3)
    return np.round(rng.uniform([4.3, 2.0, 1.0, 0.1], [7.9, 4.4, 6.9, 2.5], size=(count, 4)), 2)


def _takes_codec(body: bytes, content_type: str = "application/json") -> bool:
    from tabserve.numeric_codec import parse_numeric_csv, parse_numeric_json
    from tabserve.service.protocols.tabserve.handler import NUMERIC_CODEC_MIN_BYTES

    parse = parse_numeric_csv if content_type == "text/csv" else parse_numeric_json
    return len(body) >= NUMERIC_CODEC_MIN_BYTES and parse(body, IRIS_COLUMNS) is not None


def _post(server, body: bytes, content_type: str = "application/json"):
    response = server.client.post("/predict", content=body, headers={"content-type": content_type})
    assert response.status_code == 200, response.text
    return response


def test_columnar_batch_matches_records_batch(app_server):
    rows = _rows(3000)
    columnar_body = orjson.dumps({"columns": IRIS_COLUMNS, "data": rows.tolist()})
    records = [dict(zip(IRIS_COLUMNS, row, strict=True)) for row in rows.tolist()]
    records_body = orjson.dumps({"instances": records})
    assert _takes_codec(columnar_body) and not _takes_codec(records_body)
    columnar = masked_json(_post(app_server, columnar_body))
    general = masked_json(_post(app_server, records_body))
    assert columnar == general
    assert len(columnar["labels"]) == 3000


def test_reordered_columns_and_labels_only_flag(app_server):
    rows = _rows(1000)
    body = {"columns": IRIS_COLUMNS[::-1], "data": rows[:, ::-1].tolist(), "labels_only": True}
    assert _takes_codec(orjson.dumps(body))
    answer = _post(app_server, orjson.dumps(body)).json()
    expected = _post(app_server, orjson.dumps({"instances": rows.tolist()})).json()
    assert answer["labels"] == expected["labels"]
    assert "probabilities" not in answer or answer["probabilities"] == {}


def test_numeric_csv_matches_csv_with_a_gap(app_server):
    rows = _rows(2000)
    lines = [",".join(IRIS_COLUMNS), *(",".join(map(str, row)) for row in rows.tolist())]
    fast = _post(app_server, "\n".join(lines).encode(), "text/csv").text.splitlines()
    gap = lines[:]
    gap[1] = ",".join(["", *lines[1].split(",")[1:]])  # a missing value: the general CSV path
    assert _takes_codec("\n".join(lines).encode(), "text/csv")
    assert not _takes_codec("\n".join(gap).encode(), "text/csv")
    general = _post(app_server, "\n".join(gap).encode(), "text/csv").text.splitlines()
    assert fast[0] == general[0] == "prediction,proba_setosa,proba_versicolor,proba_virginica"
    assert fast[2:] == general[2:]
    assert len(fast) == 2001


def test_oversized_numeric_batch_is_413_naming_the_limit(app_server):
    limit = 10_000
    body = orjson.dumps({"columns": IRIS_COLUMNS, "data": _rows(limit + 1).tolist()})
    response = app_server.client.post("/predict", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert f"limit of {limit} rows" in response.json()["detail"]


def test_ragged_batch_gets_the_general_paths_row_error(app_server):
    rows = _rows(500).tolist()
    rows[321] = rows[321][:3]
    response = app_server.client.post(
        "/predict", content=orjson.dumps({"instances": rows}), headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert "row 321: expected 4 values" in response.json()["detail"]


def test_an_empty_row_in_a_large_batch_is_reported_not_dropped(app_server):
    rows = _rows(400).tolist()
    rows.insert(300, [])
    response = app_server.client.post(
        "/predict", content=orjson.dumps({"instances": rows}), headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert "row 300: expected 4 values" in response.json()["detail"]


@pytest.mark.parametrize("body", [b"[1e308, 1e308, -1e308, 1e308]", b'{"instances": [[1e308, 1, 1, 1]]}'])
def test_a_row_the_model_cannot_score_is_422_on_the_single_row_path(app_server, body):
    response = app_server.client.post("/predict", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert "row 0: values are outside the range the model can score" in response.json()["detail"]
