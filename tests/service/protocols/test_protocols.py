"""Other ecosystems' protocols against a real server: OIP v2 (a real client, binary on and off, and
hand-written JSON), KServe V1 and MLflow /invocations.

Each answers what /predict answers for the same rows and errs in its own shape."""

from __future__ import annotations

import os
import struct

import numpy as np
import orjson
import pytest

from tests.support.prediction_ids import masked

SETOSA = [5.1, 3.8, 1.5, 0.3]
VIRGINICA = [6.9, 3.1, 5.4, 2.1]
ROWS = [SETOSA, VIRGINICA, [5.9, 3.0, 4.2, 1.5]]
NAMES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


def triton():
    """The standard OIP client (dev extra); a stale .venv skips, saying so, except under CI."""
    try:
        import tritonclient.http as httpclient
    except ImportError:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip("tritonclient[http] is not installed: run `make install` to get the dev extra")
    return httpclient


@pytest.fixture(scope="module")
def expected(app_server):
    """What tabserve's own /predict says for ROWS: the reference every protocol must match."""
    answer = app_server.client.post("/predict", json={"instances": ROWS}).json()
    probabilities = np.array([answer["probabilities"][c] for c in answer["classes"]]).T
    return answer["labels"], answer["classes"], probabilities


def infer(server, body, path="/v2/models/iris/infer", **kwargs):
    return server.client.post(path, content=orjson.dumps(body), **kwargs)


def matrix_request(rows=ROWS, **extra):
    shape = [len(rows), len(rows[0]) if rows else 0]
    flat = [v for row in rows for v in row]
    return {"inputs": [{"name": "x", "shape": shape, "datatype": "FP64", "data": flat}], **extra}


# ---- OIP v2 with the standard client ----


@pytest.mark.parametrize("binary", [True, False], ids=["binary", "json"])
def test_tritonclient_infers_with_binary_on_and_off(socket_server, expected, binary):
    httpclient = triton()
    labels, classes, probabilities = expected
    client = httpclient.InferenceServerClient(socket_server.url.removeprefix("http://"))
    try:
        assert client.is_server_live() and client.is_server_ready()
        assert client.is_model_ready("iris")
        metadata = client.get_model_metadata("iris")
        assert [i["name"] for i in metadata["inputs"]] == NAMES
        assert metadata["versions"] == ["1"]
        tensor = httpclient.InferInput("input", [len(ROWS), 4], "FP64")
        tensor.set_data_from_numpy(np.array(ROWS, dtype=np.float64), binary_data=binary)
        outputs = [
            httpclient.InferRequestedOutput("predict", binary_data=binary),
            httpclient.InferRequestedOutput("predict_proba", binary_data=binary),
        ]
        result = client.infer("iris", [tensor], outputs=outputs, request_id="r-1")
        assert result.get_response()["id"] == "r-1"
        assert result.get_response()["model_version"] == "1"
        got = [v.decode() if isinstance(v, bytes) else v for v in result.as_numpy("predict").tolist()]
        assert got == labels
        np.testing.assert_allclose(result.as_numpy("predict_proba"), probabilities, rtol=1e-12)
        assert result.as_numpy("predict_proba").shape == (len(ROWS), len(classes))
    finally:
        client.close()


@pytest.mark.parametrize("binary", [True, False], ids=["binary", "json"])
def test_tritonclient_one_tensor_per_feature_in_any_datatype(socket_server, expected, binary):
    httpclient = triton()
    labels = expected[0]
    client = httpclient.InferenceServerClient(socket_server.url.removeprefix("http://"))
    try:
        tensors = []
        for column, (name, datatype) in enumerate(zip(NAMES, ["FP32", "FP64", "FP64", "FP32"], strict=True)):
            tensor = httpclient.InferInput(name, [len(ROWS), 1], datatype)
            values = np.array(
                [[row[column]] for row in ROWS], dtype=np.float32 if datatype == "FP32" else None
            )
            tensor.set_data_from_numpy(values, binary_data=binary)
            tensors.append(tensor)
        result = client.infer(
            "iris", tensors, outputs=[httpclient.InferRequestedOutput("predict", binary_data=binary)]
        )
        got = [v.decode() if isinstance(v, bytes) else v for v in result.as_numpy("predict").tolist()]
        assert got == labels
        assert result.as_numpy("predict_proba") is None
    finally:
        client.close()


def test_tritonclient_errors_are_exceptions_with_the_message(socket_server):
    httpclient = triton()
    from tritonclient.utils import InferenceServerException

    client = httpclient.InferenceServerClient(socket_server.url.removeprefix("http://"))
    try:
        tensor = httpclient.InferInput("input", [1, 3], "FP64")
        tensor.set_data_from_numpy(np.array([[1.0, 2.0, 3.0]]))
        with pytest.raises(InferenceServerException, match=r"\[rows, 4\]"):
            client.infer("iris", [tensor])
        with pytest.raises(InferenceServerException, match="not served"):
            client.infer("wine", [tensor])
    finally:
        client.close()


# ---- OIP v2 by hand ----


def test_oip_json_default_outputs_are_labels_and_probabilities(app_server, expected):
    labels, classes, probabilities = expected
    response = infer(app_server, matrix_request(id="abc"))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["model_name"] == "iris" and body["model_version"] == "1" and body["id"] == "abc"
    predict, proba = body["outputs"]
    assert predict == {"name": "predict", "datatype": "BYTES", "shape": [3], "data": labels}
    assert proba["name"] == "predict_proba" and proba["datatype"] == "FP64"
    assert proba["shape"] == [3, len(classes)]
    np.testing.assert_allclose(np.array(proba["data"]).reshape(3, -1), probabilities, rtol=1e-12)


def test_oip_nested_data_int64_bool_and_bytes_columns(app_server, expected):
    body = {
        "inputs": [{"name": "x", "shape": [1, 4], "datatype": "INT64", "data": [[5, 3, 1, 0]]}],
        "outputs": [{"name": "predict"}],
    }
    response = infer(app_server, body)
    assert response.status_code == 200, response.text
    assert response.json()["outputs"][0]["data"] == ["setosa"]
    body["inputs"] = [{"name": "x", "shape": [1, 4], "datatype": "BOOL", "data": [True, True, True, False]}]
    assert infer(app_server, body).status_code == 200
    columns = [
        {"name": name, "shape": [3], "datatype": "FP64", "data": [row[i] for row in ROWS]}
        for i, name in enumerate(NAMES)
    ]
    response = infer(app_server, {"inputs": columns[::-1], "outputs": [{"name": "predict"}]})
    assert response.json()["outputs"][0]["data"] == expected[0]
    columns[0] = {"name": NAMES[0], "shape": [3], "datatype": "BYTES", "data": ["a", "b", "c"]}
    response = infer(app_server, {"inputs": columns})
    assert response.status_code == 400
    assert "sepal_length" in response.json()["error"] and "'a'" in response.json()["error"]


def test_oip_binary_request_and_response_by_hand(app_server, expected):
    labels, classes, probabilities = expected
    data = np.array(ROWS, dtype="<f8").tobytes()
    header = orjson.dumps(
        {
            "inputs": [
                {
                    "name": "x",
                    "shape": [3, 4],
                    "datatype": "FP64",
                    "parameters": {"binary_data_size": len(data)},
                }
            ],
            "parameters": {"binary_data_output": True},
        }
    )
    response = app_server.client.post(
        "/v2/models/iris/versions/1/infer",
        content=header + data,
        headers={
            "Inference-Header-Content-Length": str(len(header)),
            "Content-Type": "application/octet-stream",
        },
    )
    assert response.status_code == 200, response.text
    size = int(response.headers["inference-header-content-length"])
    head = orjson.loads(response.content[:size])
    tail = response.content[size:]
    predict, proba = head["outputs"]
    raw_labels = tail[: predict["parameters"]["binary_data_size"]]
    raw_proba = tail[predict["parameters"]["binary_data_size"] :]
    assert len(raw_proba) == proba["parameters"]["binary_data_size"] == 3 * len(classes) * 8
    decoded, at = [], 0
    while at < len(raw_labels):
        (n,) = struct.unpack_from("<I", raw_labels, at)
        decoded.append(raw_labels[at + 4 : at + 4 + n].decode())
        at += 4 + n
    assert decoded == labels
    np.testing.assert_array_equal(np.frombuffer(raw_proba, "<f8").reshape(3, -1), probabilities)


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({}, 400, "inputs"),
        ({"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP16", "data": [1, 2, 3, 4]}]}, 400, "FP16"),
        ({"inputs": [{"name": "x", "shape": [2, 4], "datatype": "FP64", "data": SETOSA}]}, 400, "fill"),
        (
            {"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP64", "data": ["a", 1, 2, 3]}]},
            400,
            "numbers",
        ),
        ({"inputs": [{"name": "x", "shape": [0, 4], "datatype": "FP64", "data": []}]}, 400, "empty"),
        (
            {"inputs": [{"name": "petal", "shape": [1], "datatype": "FP64", "data": [1]}]},
            400,
            "no input is a feature",
        ),
        ({**matrix_request(), "outputs": [{"name": "logits"}]}, 400, "logits"),
        ({**matrix_request(), "id": 5}, 400, "id"),
        (b'{"inputs": [', 400, "JSON"),
        (b"[1, 2]", 400, "object"),
    ],
)
def test_oip_bad_requests_are_400_with_an_error(app_server, body, status, words):
    content = body if isinstance(body, bytes) else orjson.dumps(body)
    response = app_server.client.post("/v2/models/iris/infer", content=content)
    assert response.status_code == status, response.text
    assert list(response.json()) == ["error"] and words in response.json()["error"]


def test_oip_binary_framing_errors(app_server):
    header = orjson.dumps(
        {
            "inputs": [
                {"name": "x", "shape": [1, 4], "datatype": "FP64", "parameters": {"binary_data_size": 32}}
            ]
        }
    )
    for extra, length, words in [
        (b"\0" * 16, str(len(header)), "binary_data_size"),
        (b"\0" * 40, str(len(header)), "accounts for"),
        (b"\0" * 32, "9999", "Inference-Header-Content-Length"),
        (b"\0" * 32, "-1", "Inference-Header-Content-Length"),
    ]:
        response = app_server.client.post(
            "/v2/models/iris/infer",
            content=header + extra,
            headers={"Inference-Header-Content-Length": length},
        )
        assert response.status_code == 400, response.text
        assert words in response.json()["error"]


def test_oip_not_found_media_and_row_limit(app_server):
    assert infer(app_server, matrix_request(), "/v2/models/wine/infer").status_code == 404
    response = infer(app_server, matrix_request(), "/v2/models/iris/versions/9/infer")
    assert response.status_code == 404 and "error" in response.json()
    response = infer(app_server, matrix_request(), "/v2/models/iris/versions/x/infer")
    assert response.status_code == 400
    response = infer(app_server, matrix_request(), headers={"content-type": "text/csv"})
    assert response.status_code == 415 and "error" in response.json()
    rows = [SETOSA] * 10_001
    response = infer(app_server, matrix_request(rows))
    assert response.status_code == 413 and "10000" in response.json()["error"]


def test_oip_server_and_model_metadata(app_server):
    client = app_server.client
    assert client.get("/v2").json()["extensions"] == ["binary_tensor_data"]
    assert client.get("/v2/health/live").status_code == 200
    assert client.get("/v2/health/ready").json() == {"ready": True}
    metadata = client.get("/v2/models/iris").json()
    assert metadata["platform"] == "sklearn" and metadata["versions"] == ["1"]
    assert metadata["inputs"][0] == {"name": "sepal_length", "datatype": "FP64", "shape": [-1]}
    assert metadata["outputs"][1]["shape"] == [-1, 3]
    assert client.get("/v2/models/iris/versions/1").json()["versions"] == ["1"]
    assert client.get("/v2/models/iris/ready").json()["ready"] is True
    assert client.get("/v2/models/iris/versions/1/ready").status_code == 200
    response = client.get("/v2/models/wine")
    assert response.status_code == 404 and "wine" in response.json()["error"]
    assert client.get("/v2/models/iris/versions/3/ready").status_code == 404


# ---- KServe V1 ----


def test_kserve_v1_status_and_predict(app_server, expected):
    client = app_server.client
    assert client.get("/v1/models/iris").json() == {"name": "iris", "ready": True}
    assert client.get("/v1/models/wine").status_code == 404
    response = client.post("/v1/models/iris:predict", json={"instances": ROWS})
    assert response.status_code == 200, response.text
    assert response.json() == {"predictions": expected[0]}
    records = [dict(zip(NAMES, row, strict=True)) for row in ROWS]
    assert (
        client.post("/v1/models/iris:predict", json={"instances": records}).json()["predictions"]
        == expected[0]
    )
    for body, words in [
        ({"rows": ROWS}, "instances"),
        ({"instances": [[1, 2]]}, "4 values"),
        ([SETOSA], "instances"),
    ]:
        response = client.post("/v1/models/iris:predict", json=body)
        assert response.status_code == 400, response.text
        assert list(response.json()) == ["error"] and words in response.json()["error"]
    assert client.post("/v1/models/wine:predict", json={"instances": ROWS}).status_code == 404


# ---- MLflow ----


@pytest.mark.parametrize(
    "body",
    [
        {"dataframe_split": {"columns": NAMES, "data": ROWS}},
        {"dataframe_records": [dict(zip(NAMES, row, strict=True)) for row in ROWS]},
        {"instances": ROWS},
        {"inputs": ROWS},
        {"inputs": {name: [row[i] for row in ROWS] for i, name in enumerate(NAMES)}},
    ],
    ids=["split", "records", "instances", "inputs", "inputs-columns"],
)
def test_mlflow_json_formats(app_server, expected, body):
    response = app_server.client.post("/invocations", json=body)
    assert response.status_code == 200, response.text
    assert response.json() == {"predictions": expected[0]}


def test_mlflow_csv_probabilities_and_health(app_server, expected):
    labels, classes, probabilities = expected
    client = app_server.client
    csv = ",".join(NAMES) + "\n" + "\n".join(",".join(map(str, row)) for row in ROWS) + "\n"
    response = client.post("/invocations", content=csv, headers={"content-type": "text/csv"})
    assert response.json() == {"predictions": labels}
    response = client.post("/invocations", json={"instances": ROWS, "params": {"probabilities": True}})
    records = response.json()["predictions"]
    assert [list(r) for r in records] == [classes] * len(ROWS)
    np.testing.assert_allclose([[r[c] for c in classes] for r in records], probabilities, rtol=1e-12)
    assert client.get("/ping").status_code == 200 and client.get("/health").status_code == 200
    assert client.get("/version").text


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"instances": ROWS, "inputs": ROWS}, "exactly one"),
        ({"dataframe_split": {"data": ROWS}}, "columns"),
        ({"instances": [[1, "x", 1, 1]]}, "sepal_width"),
        ({"instances": ROWS, "params": {"probabilities": "yes"}}, "probabilities"),
        ({"inputs": {"sepal_length": 1}}, "list"),
    ],
)
def test_mlflow_errors_in_mlflow_shape(app_server, body, words):
    response = app_server.client.post("/invocations", json=body)
    assert response.status_code == 400, response.text
    assert response.json()["error_code"] == "BAD_REQUEST" and words in response.json()["message"]


def test_every_protocol_counts_predictions_under_its_label(app_server):
    client = app_server.client
    client.post("/v1/models/iris:predict", json={"instances": [SETOSA]})
    client.post("/invocations", json={"instances": [SETOSA]})
    infer(app_server, matrix_request([SETOSA]))
    metrics = client.get("/metrics").text
    for protocol in ("oip", "kserve_v1", "mlflow"):
        assert f'protocol="{protocol}"' in metrics, protocol


# ---- the raw ASGI fast path and the declared routes answer alike ----


def _binary_request() -> tuple[bytes, dict]:
    data = np.array(ROWS, dtype="<f8").tobytes()
    header = orjson.dumps(
        {
            "inputs": [
                {"name": "x", "shape": [3, 4], "datatype": "FP64", "parameters": {"binary_data_size": 24}}
            ],
            "outputs": [{"name": "predict", "parameters": {"binary_data": True}}, {"name": "predict_proba"}],
        }
    )
    return header + data, {"Inference-Header-Content-Length": str(len(header))}


@pytest.mark.parametrize(
    ("path", "content", "headers"),
    [
        ("/v2/models/iris/infer", orjson.dumps(matrix_request(id="a")), {}),
        ("/v2/models/iris/versions/1/infer", orjson.dumps(matrix_request()), {}),
        ("/v2/models/iris/infer", *_binary_request()),
        ("/v2/models/iris/infer", b"{", {}),
        ("/v2/models/wine/infer", orjson.dumps(matrix_request()), {}),
        ("/v2/models/iris/versions/7/infer", orjson.dumps(matrix_request()), {}),
        ("/v2/models/iris/infer", orjson.dumps(matrix_request()), {"content-type": "text/csv"}),
        ("/invocations", orjson.dumps({"instances": ROWS}), {}),
        ("/invocations", orjson.dumps({"instances": ROWS, "params": {"probabilities": True}}), {}),
        ("/invocations", b"sepal_length\n1\n", {"content-type": "text/csv"}),
        ("/invocations", b"[]", {}),
        ("/invocations", b"{}", {"content-type": "image/png"}),
    ],
)
def test_fast_path_and_declared_routes_answer_alike(app_server, request, path, content, headers):
    declared = request.getfixturevalue("declared_client")
    fast = app_server.client.post(path, content=content, headers=headers)
    declared = declared.post(path, content=content, headers=headers)
    assert fast.status_code == declared.status_code, (fast.text, declared.text)
    assert fast.headers["content-type"] == declared.headers["content-type"]
    assert fast.headers.get("inference-header-content-length") == declared.headers.get(
        "inference-header-content-length"
    )
    assert masked(fast.content) == masked(declared.content)
