"""One rule for extra columns on every HTTP surface, and wide or big bodies kept off the event loop.

Columns the model does not take are ignored and named in ``X-Tabserve-Ignored-Columns``
(JSON answers keep their shape); a missing column stays an error; a request wider than
the schema allows is refused before it is parsed; big bodies are decoded in a worker thread.
Each HTTP test runs on the dispatcher's fast path (a real server) and on the declared routes.
"""

from __future__ import annotations

import asyncio
import threading

import pytest

from tabserve.config import load_settings
from tabserve.inputs import TooManyColumnsError
from tabserve.schema import Feature, FeatureSchema
from tabserve.service.predict import core as core_module
from tabserve.service.protocols.tabserve import csv_codec
from tabserve.service.protocols.tabserve.csv_codec import check_csv_width
from tests.support.prediction_ids import masked_json
from tests.support.servers import asgi_exchange

NAMES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
SETOSA = [5.1, 3.8, 1.5, 0.3]
VIRGINICA = [6.9, 3.1, 5.4, 2.1]
RECORD = dict(zip(NAMES, SETOSA, strict=True))
IGNORED = "x-tabserve-ignored-columns"
COUNT = "x-tabserve-ignored-column-count"
CSV_WITH_LABEL = "id,sepal_length,sepal_width,petal_length,petal_width,species\n7,5.1,3.8,1.5,0.3,setosa\n"
SCHEMA = FeatureSchema([Feature(n, "numeric") for n in NAMES], "species", ["a", "b"])


@pytest.fixture(params=["fast-path", "declared-route"])
def client(request, shared_server):
    if request.param == "fast-path":
        return shared_server.client
    return request.getfixturevalue("declared_client")


def _ignored(response) -> list[str]:
    return response.headers[IGNORED].split(",")


def test_tabserve_csv_ignores_extra_columns_and_names_them(client):
    response = client.post("/predict", content=CSV_WITH_LABEL, headers={"content-type": "text/csv"})
    assert response.status_code == 200, response.text
    assert _ignored(response) == ["id", "species"] and response.headers[COUNT] == "2"
    assert response.text.splitlines()[1].startswith("setosa,")


def test_tabserve_json_records_and_columns_ignore_extras_without_changing_shape(client):
    plain = client.post("/predict", json={"instances": [RECORD]})
    assert IGNORED not in plain.headers
    records = client.post("/predict", json={"instances": [{**RECORD, "species": "setosa", "id": 1}]})
    assert records.status_code == 200, records.text
    assert _ignored(records) == ["species", "id"]
    assert masked_json(records) == masked_json(plain)
    columnar = client.post(
        "/models/iris/predict", json={"columns": ["note", *NAMES], "data": [["x", *VIRGINICA]]}
    )
    assert columnar.status_code == 200, columnar.text
    assert _ignored(columnar) == ["note"] and columnar.json()["labels"] == ["virginica"]


def test_mlflow_invocations_csv_and_records_ignore_extras(client):
    csv = client.post("/invocations", content=CSV_WITH_LABEL, headers={"content-type": "text/csv"})
    assert csv.status_code == 200, csv.text
    assert csv.json() == {"predictions": ["setosa"]} and _ignored(csv) == ["id", "species"]
    records = client.post("/invocations", json={"dataframe_records": [{**RECORD, "species": "setosa"}]})
    assert records.status_code == 200, records.text
    assert records.json() == {"predictions": ["setosa"]} and _ignored(records) == ["species"]


def test_oip_named_inputs_ignore_a_tensor_that_is_not_a_feature(client):
    inputs = [{"name": n, "datatype": "FP64", "shape": [1], "data": [v]} for n, v in RECORD.items()]
    inputs.append({"name": "species", "datatype": "BYTES", "shape": [1], "data": ["setosa"]})
    response = client.post("/v2/models/iris/infer", json={"inputs": inputs})
    assert response.status_code == 200, response.text
    assert _ignored(response) == ["species"]
    assert response.json()["outputs"][0]["data"] == ["setosa"]


def test_kserve_v1_instances_ignore_an_extra_key(client):
    response = client.post("/v1/models/iris:predict", json={"instances": [{**RECORD, "species": "x"}]})
    assert response.status_code == 200, response.text
    assert response.json() == {"predictions": ["setosa"]} and _ignored(response) == ["species"]


def test_a_missing_column_is_still_an_error_everywhere(client):
    no_width = {k: v for k, v in RECORD.items() if k != "petal_width"}
    csv = "sepal_length,sepal_width,petal_length,species\n5.1,3.8,1.5,setosa\n"
    answers = [
        client.post("/predict", content=csv, headers={"content-type": "text/csv"}),
        client.post("/predict", json={"instances": [{**no_width, "species": "x"}]}),
        client.post("/invocations", content=csv, headers={"content-type": "text/csv"}),
        client.post("/invocations", json={"dataframe_records": [no_width]}),
        client.post("/v1/models/iris:predict", json={"instances": [no_width]}),
    ]
    assert [a.status_code for a in answers] == [422, 422, 400, 400, 400]
    assert all("missing column(s) petal_width" in a.text for a in answers)


def test_ignored_names_are_capped_and_cannot_break_the_header(client):
    extras = {f"extra,{i}\u00e9": 1 for i in range(30)}
    response = client.post("/predict", json={"instances": [{**RECORD, **extras}]})
    assert response.status_code == 200, response.text
    shown = _ignored(response)
    assert len(shown) == 20 and shown[0] == "extra%2C0%C3%A9"
    assert response.headers[COUNT] == "30"


def test_a_csv_header_far_wider_than_the_schema_is_refused_naming_count_and_limit(client):
    wide = b",".join([b"x"] * 1_000_000) + b"\n" + b",".join([b"1"] * 1_000_000) + b"\n"
    predict = client.post("/predict", content=wide, headers={"content-type": "text/csv"})
    assert predict.status_code == 422
    assert "the CSV header row has 1000000 columns, more than the limit of 104" in predict.json()["detail"]
    mlflow = client.post("/invocations", content=wide, headers={"content-type": "text/csv"})
    assert mlflow.status_code == 400
    assert "1000000 columns, more than the limit of 104" in mlflow.json()["message"]


def test_json_columns_and_records_far_too_wide_are_refused(client):
    names = [f"c{i}" for i in range(5000)]
    columnar = client.post("/predict", json={"columns": names, "data": [[1] * 5000]})
    assert columnar.status_code == 422 and "'columns' has 5000 columns" in columnar.text
    record = client.post("/invocations", json={"dataframe_records": [dict.fromkeys(names, 1)]})
    assert record.status_code == 400 and "row 0 has 5000 columns" in record.text
    split = client.post("/invocations", json={"inputs": {n: [1] for n in names}})
    assert split.status_code == 400 and "the request has 5000 columns" in split.text
    tensors = [{"name": n, "datatype": "FP64", "shape": [1], "data": [1]} for n in names]
    oip = client.post("/v2/models/iris/infer", json={"inputs": tensors})
    assert oip.status_code == 400 and "the request has 5000 columns" in oip.text


@pytest.mark.parametrize(
    ("head", "width"),
    [
        (b"a,b,c", 3),
        (b'"a,1","b\nc",d', 3),  # commas and a line break inside quotes are part of a name
        (b'"say ""hi"", then",b', 2),
    ],
)
def test_csv_width_counts_only_the_header_record(head, width):
    one = FeatureSchema([Feature("only", "numeric")], "y", ["a"])  # a limit of 101 columns
    for end in (b"\n", b"\r\n", b"\r"):
        check_csv_width(head + end + end.join([b"1,2,3"] * 500), one)  # the rows' commas never count
    repeats = 101 // width + 1
    with pytest.raises(TooManyColumnsError, match=f"has {repeats * width} columns"):
        check_csv_width(b",".join([head] * repeats) + b"\n1\n", one)


def test_a_header_of_only_quotes_is_refused_not_walked():
    with pytest.raises(TooManyColumnsError, match="quote characters"):
        check_csv_width(b'"' + b'""' * 100_000 + b'"\n1\n', SCHEMA)
    unclosed = csv_codec.read_csv_payload(b'"sepal_length,' + b"x" * 100 + b"\n1,2", SCHEMA)
    assert len(unclosed["columns"]) == 1  # an unclosed quote is left to the parser: one long name


@pytest.mark.parametrize("path", ["/invocations", "/predict"])
def test_a_big_body_is_decoded_in_a_worker_thread_while_probes_are_answered(iris_config, monkeypatch, path):
    """The CSV parse of a big body waits until /healthz has been answered: on the event loop it
    could not be, and the parse would find the probe unanswered when its wait runs out."""
    from tabserve.service.app import create_app, with_fast_predict

    probe_answered = threading.Event()
    seen = {}
    parse = csv_codec.read_csv_payload

    def slow_parse(body, schema):
        seen["thread"] = threading.current_thread() is not threading.main_thread()
        seen["probe_first"] = probe_answered.wait(20)
        return parse(body, schema)

    monkeypatch.setattr(csv_codec, "read_csv_payload", slow_parse)
    rows = "\n".join(["5.1000,3.8000,1.5000,0.3000,setosa"] * 10_000)
    body = ("sepal_length,sepal_width,petal_length,petal_width,species\n" + rows + "\n").encode()
    assert len(body) > core_module.OFF_LOOP_BYTES

    async def calls(client):
        async def probe():
            while "thread" not in seen:
                await asyncio.sleep(0.01)
            answer = await client.get("/healthz")
            probe_answered.set()
            return answer.status_code

        predict = client.post(path, content=body, headers={"content-type": "text/csv"})
        return await asyncio.gather(predict, probe())

    app = with_fast_predict(create_app(load_settings(iris_config, environ={})))
    predicted, probe_status = asgi_exchange(app, "http://127.0.0.1:5000", calls)
    assert probe_status == 200
    assert seen == {"thread": True, "probe_first": True}
    assert predicted.status_code == 200, predicted.text
    rows = predicted.json()["predictions"] if path == "/invocations" else predicted.text.splitlines()[1:]
    assert len(rows) == 10_000
