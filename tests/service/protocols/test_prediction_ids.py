"""Every predict answer carries its prediction ids, each protocol in its own shape."""

from __future__ import annotations

import csv
import io

import orjson
import pytest

from tabserve.monitoring import ids as ids_module
from tabserve.monitoring.ids import RequestIds, parse_row_id, row_ids, row_ids_json

SETOSA = [5.1, 3.8, 1.5, 0.3]
VIRGINICA = [6.7, 3.0, 5.2, 2.3]
HEADER = "x-tabserve-request-id"
NAMES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


def test_request_ids_are_unique_and_row_ids_carry_the_time():
    ids = RequestIds(clock_ns=lambda: 1_800_000_000_123_456_789)
    first, second = ids(), ids()
    assert first != second
    parsed = parse_row_id(row_ids(first, 3)[2])
    assert parsed is not None and parsed.request_id == first and parsed.row == 2
    assert parsed.at == 1_800_000_000.123
    for bad in ("", "abc-1", first, f"{first}-x", f"{first}-1-2", 12, None, "Z" * 30 + "-0"):
        assert parse_row_id(bad) is None


@pytest.mark.parametrize("rows", [0, 1, 2, 17, 16_384, 16_385, 20_003])
def test_ready_made_id_json_is_what_encoding_the_ids_gives(rows):
    request_id = RequestIds()()
    assert row_ids_json(request_id, rows) == orjson.dumps(row_ids(request_id, rows))


def test_ready_made_id_json_grows_its_cache_as_batches_grow(monkeypatch):
    monkeypatch.setattr(ids_module, "_suffixes", [])
    assert row_ids_json("ab", 3) == b'["ab-0","ab-1","ab-2"]'
    assert row_ids_json("cd", 5) == b'["cd-0","cd-1","cd-2","cd-3","cd-4"]'
    assert row_ids_json("ef", 2) == b'["ef-0","ef-1"]'


def test_a_batch_answer_ends_with_its_ids_as_valid_json(app_server):
    rows = [SETOSA, VIRGINICA] * 600
    answer = app_server.client.post("/models/iris/predict", json={"columns": NAMES, "data": rows})
    body = orjson.loads(answer.content)
    request_id = answer.headers[HEADER]
    assert list(body)[-1] == "ids" and body["ids"] == row_ids(request_id, len(rows))
    assert len(body["labels"]) == len(rows)


def test_tabserve_json_answers_one_id_per_row_and_the_header_names_their_request(app_server):
    for body in ({"instances": [SETOSA, VIRGINICA]}, {"columns": NAMES, "data": [SETOSA, VIRGINICA]}):
        answer = app_server.client.post("/models/iris/predict", json=body)
        request_id = answer.headers[HEADER]
        assert answer.json()["ids"] == [f"{request_id}-0", f"{request_id}-1"]
    single = app_server.client.post("/predict", json=SETOSA)
    assert single.json()["ids"] == [f"{single.headers[HEADER]}-0"]
    again = app_server.client.post("/predict", json=SETOSA)
    assert again.json()["ids"] != single.json()["ids"]


def test_csv_answers_have_an_id_column_when_asked(app_server):
    body = "sepal_length,sepal_width,petal_length,petal_width\n5.1,3.8,1.5,0.3\n6.7,3.0,5.2,2.3\n"
    headers = {"content-type": "text/csv"}
    plain = app_server.client.post("/predict", content=body, headers=headers)
    assert plain.text.splitlines()[0].startswith("prediction,")
    with_ids = app_server.client.post("/predict?ids=true", content=body, headers=headers)
    rows = list(csv.DictReader(io.StringIO(with_ids.text)))
    request_id = with_ids.headers[HEADER]
    assert [r["id"] for r in rows] == [f"{request_id}-0", f"{request_id}-1"]
    assert [r["prediction"] for r in rows] == ["setosa", "virginica"]
    labels = app_server.client.post("/predict?ids=true&labels_only=true", content=body, headers=headers)
    assert labels.text.splitlines()[0] == "id,prediction"
    refused = app_server.client.post("/predict?ids=maybe", content=body, headers=headers)
    assert refused.status_code == 422 and "'ids'" in refused.json()["detail"]


def test_oip_answers_the_request_id_as_a_parameter_and_a_header(app_server):
    inputs = [{"name": "input-0", "datatype": "FP64", "shape": [2, 4], "data": SETOSA + VIRGINICA}]
    answer = app_server.client.post("/v2/models/iris/infer", content=orjson.dumps({"inputs": inputs}))
    assert answer.status_code == 200, answer.text
    assert answer.json()["parameters"]["tabserve_request_id"] == answer.headers[HEADER]


def test_kserve_v1_and_mlflow_keep_their_body_and_answer_the_request_id_in_a_header(app_server):
    v1 = app_server.client.post("/v1/models/iris:predict", json={"instances": [SETOSA]})
    assert set(v1.json()) == {"predictions"} and parse_row_id(f"{v1.headers[HEADER]}-0") is not None
    mlflow = app_server.client.post("/invocations", json={"inputs": [SETOSA]})
    assert set(mlflow.json()) == {"predictions"} and parse_row_id(f"{mlflow.headers[HEADER]}-0") is not None
