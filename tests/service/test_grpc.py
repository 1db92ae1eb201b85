"""The Open Inference Protocol over gRPC, with the standard client (tritonclient.grpc).

The module's server is the real app served by uvicorn in a thread of this process,
with ``server.grpc_port`` set (0: a free port) and a token configured, so the
lifespan starts gRPC on uvicorn's loop and every test also shows inference needs
no token, as over HTTP. Answers are compared with the HTTP protocols' for the same rows.
"""

from __future__ import annotations

import os
import socket
import time

import numpy as np
import orjson
import pytest

from tabserve.config import load_settings
from tests.support.servers import copy_registry, free_port, serve_in_thread, write_config

SETOSA = [5.1, 3.8, 1.5, 0.3]
ROWS = [SETOSA, [6.9, 3.1, 5.4, 2.1], [5.9, 3.0, 4.2, 1.5]]
NAMES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
TOKEN = "grpc-test-token"
MAX_ROWS = 100


def triton():
    """tritonclient.grpc (dev extra); a stale .venv skips, saying so, except under CI."""
    try:
        import tritonclient.grpc as grpcclient
    except ImportError:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip("tritonclient[grpc] is not installed: run `make install` to get the dev extra")
    return grpcclient


@pytest.fixture(scope="module")
def served(tmp_path_factory, trained_iris):
    """(HTTP client, gRPC address) of one in-process server with gRPC on."""
    triton()
    from tabserve.service.app import create_app, with_fast_predict
    from tabserve.service.deps import grpc_port

    root = tmp_path_factory.mktemp("grpc-server")
    registry = copy_registry(trained_iris[0], root / "registry")
    config = write_config(root, registry, server={"grpc_port": 0, "token": TOKEN, "max_batch_rows": MAX_ROWS})
    app = create_app(load_settings(config, environ={}))
    with serve_in_thread(with_fast_predict(app)) as client:
        deadline = time.monotonic() + 60
        while client.get("/readyz").status_code != 200:  # the model loads in the background
            assert time.monotonic() < deadline, client.get("/readyz").text
            time.sleep(0.05)
        yield client, f"127.0.0.1:{grpc_port(app)}"


@pytest.fixture(scope="module")
def client(served):
    grpcclient = triton()
    client = grpcclient.InferenceServerClient(served[1])
    yield client
    client.close()


@pytest.fixture(scope="module")
def expected(served):
    """What /predict answers for ROWS: labels and probabilities in class order."""
    answer = served[0].post("/predict", json={"instances": ROWS}).json()
    probabilities = np.array([answer["probabilities"][c] for c in answer["classes"]]).T
    return answer["labels"], probabilities


def stub(served):
    """The raw generated stub of tritonclient, for requests its helpers do not build (typed contents)."""
    import grpc
    from tritonclient.grpc import service_pb2_grpc

    channel = grpc.insecure_channel(served[1])
    return channel, service_pb2_grpc.GRPCInferenceServiceStub(channel)


def typed_request(inputs, **fields):
    from tritonclient.grpc import service_pb2

    request = service_pb2.ModelInferRequest(model_name="iris", **fields)
    for name, datatype, shape, field, values in inputs:
        tensor = request.inputs.add(name=name, datatype=datatype, shape=shape)
        getattr(tensor.contents, field).extend(values)
    return request


def labels_of(result) -> list[str]:
    return [v.decode() for v in result.as_numpy("predict").tolist()]


def http_error(served, body: dict) -> str:
    """The HTTP OIP route's error text for the same request."""
    response = served[0].post("/v2/models/iris/infer", content=orjson.dumps(body))
    assert response.status_code >= 400, response.text
    return response.json()["error"]


# ---- health and metadata ----


def test_live_ready_and_server_metadata(client):
    assert client.is_server_live()
    assert client.is_server_ready()
    assert client.is_model_ready("iris")
    assert client.is_model_ready("iris", "1")
    metadata = client.get_server_metadata(as_json=True)
    assert metadata["name"] == "tabserve" and metadata["version"]


def test_model_metadata_names_each_feature_and_both_outputs(client, served):
    metadata = client.get_model_metadata("iris", as_json=True)
    assert metadata["name"] == "iris" and metadata["versions"] == ["1"]
    assert metadata["platform"] == "sklearn"
    assert [(i["name"], i["datatype"], i["shape"]) for i in metadata["inputs"]] == [
        (name, "FP64", ["-1"]) for name in NAMES
    ]
    assert [(o["name"], o["datatype"]) for o in metadata["outputs"]] == [
        ("predict", "BYTES"),
        ("predict_proba", "FP64"),
    ]
    assert metadata["outputs"][1]["shape"] == ["-1", "3"]
    http = served[0].get("/v2/models/iris").json()
    assert [i["name"] for i in http["inputs"]] == [i["name"] for i in metadata["inputs"]]
    assert client.get_model_metadata("iris", "1", as_json=True)["versions"] == ["1"]


def test_unknown_model_and_version_are_not_found(client):
    from tritonclient.utils import InferenceServerException

    with pytest.raises(InferenceServerException) as raised:
        client.get_model_metadata("wine")
    assert raised.value.status() == "StatusCode.NOT_FOUND"
    assert raised.value.message() == "model 'wine' is not served by this server (it serves: iris)"
    with pytest.raises(InferenceServerException) as raised:
        client.is_model_ready("iris", "99")
    assert raised.value.status() == "StatusCode.NOT_FOUND" and "99" in raised.value.message()
    with pytest.raises(InferenceServerException) as raised:
        client.is_model_ready("iris", "one")
    assert raised.value.status() == "StatusCode.INVALID_ARGUMENT"
    assert raised.value.message() == "a model version is a positive integer"


# ---- inference ----


def test_raw_contents_answer_what_predict_answers(client, expected):
    grpcclient = triton()
    labels, probabilities = expected
    tensor = grpcclient.InferInput("input", [len(ROWS), 4], "FP64")
    tensor.set_data_from_numpy(np.array(ROWS, dtype=np.float64))
    result = client.infer("iris", [tensor], request_id="r-1")
    response = result.get_response()
    assert response.id == "r-1" and response.model_name == "iris" and response.model_version == "1"
    assert [o.name for o in response.outputs] == ["predict", "predict_proba"]
    assert labels_of(result) == labels
    np.testing.assert_allclose(result.as_numpy("predict_proba"), probabilities, rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["FP64", "FP32"])
def test_each_row_alone_answers_as_in_a_batch(client, expected, dtype):
    """A lone FP64 row skips the general decoder; it must answer exactly what the batch path does."""
    grpcclient = triton()
    labels, probabilities = expected
    for position, row in enumerate(ROWS):
        tensor = grpcclient.InferInput("input", [1, 4], "FP64" if dtype == np.float64 else "FP32")
        tensor.set_data_from_numpy(np.array([row], dtype=dtype))
        result = client.infer("iris", [tensor])
        assert labels_of(result) == [labels[position]]
        if dtype == np.float64:
            np.testing.assert_allclose(
                result.as_numpy("predict_proba")[0], probabilities[position], rtol=1e-12
            )
        only = client.infer("iris", [tensor], outputs=[grpcclient.InferRequestedOutput("predict")])
        assert labels_of(only) == [labels[position]] and only.as_numpy("predict_proba") is None


def test_one_raw_tensor_per_feature_in_any_datatype(client, expected):
    grpcclient = triton()
    tensors = []
    for column, (name, dtype) in enumerate(zip(NAMES, ["FP32", "FP64", "INT64", "FP64"], strict=True)):
        values = np.array([row[column] for row in ROWS])
        if dtype == "INT64":  # whole centimetres still name the same species for these rows
            values = np.round(values).astype(np.int64)
        tensor = grpcclient.InferInput(name, [len(ROWS)], dtype)
        tensor.set_data_from_numpy(values.astype(np.float32) if dtype == "FP32" else values)
        tensors.append(tensor)
    assert labels_of(client.infer("iris", tensors)) == expected[0]


def test_typed_contents_answer_what_raw_contents_answer(served, expected):
    from tritonclient.grpc import InferResult

    labels, probabilities = expected
    flat = [v for row in ROWS for v in row]
    channel, service = stub(served)
    try:
        matrix = typed_request([("x", "FP64", [3, 4], "fp64_contents", flat)], id="typed")
        result = InferResult(service.ModelInfer(matrix))
        assert result.get_response().id == "typed"
        assert labels_of(result) == labels
        np.testing.assert_allclose(result.as_numpy("predict_proba"), probabilities, rtol=1e-12)
        columns = [
            (n, "FP32", [3, 1], "fp32_contents", [row[i] for row in ROWS]) for i, n in enumerate(NAMES)
        ]
        assert labels_of(InferResult(service.ModelInfer(typed_request(columns)))) == labels
    finally:
        channel.close()


def test_a_named_input_that_is_not_a_feature_is_ignored_and_named_in_trailing_metadata(served, expected):
    columns = [(n, "FP64", [3], "fp64_contents", [row[i] for row in ROWS]) for i, n in enumerate(NAMES)]
    columns.append(("species", "BYTES", [3], "bytes_contents", [b"a", b"b", b"c"]))
    channel, service = stub(served)
    try:
        from tritonclient.grpc import InferResult

        response, call = service.ModelInfer.with_call(typed_request(columns))
        assert labels_of(InferResult(response)) == expected[0]
        assert dict(call.trailing_metadata())["x-tabserve-ignored-columns"] == "species"
    finally:
        channel.close()


def test_predictions_are_counted_under_their_own_protocol(client, served):
    grpcclient = triton()
    tensor = grpcclient.InferInput("input", [1, 4], "FP64")
    tensor.set_data_from_numpy(np.array([SETOSA]))
    client.infer("iris", [tensor])
    assert 'protocol="oip_grpc"' in served[0].get("/metrics").text


# ---- errors: the HTTP protocol's words, as gRPC status codes ----


@pytest.mark.parametrize(
    ("shape", "datatype", "values", "code"),
    [
        ([3, 3], "FP64", np.ones((3, 3)), "INVALID_ARGUMENT"),  # not [rows, 4]
        ([2, 4], "INT32", np.ones((2, 4), dtype=np.int32), "INVALID_ARGUMENT"),  # datatype not read
        ([1, 4], "FP64", np.array([[1.0, np.inf, 1.0, 1.0]]), "INVALID_ARGUMENT"),  # not finite
        ([MAX_ROWS + 1, 4], "FP64", np.ones((MAX_ROWS + 1, 4)), "RESOURCE_EXHAUSTED"),  # past the row limit
    ],
    ids=["shape", "datatype", "infinite", "rows"],
)
def test_bad_tensors_fail_with_the_http_words(client, served, shape, datatype, values, code):
    grpcclient = triton()
    from tritonclient.utils import InferenceServerException

    tensor = grpcclient.InferInput("input", shape, datatype)
    tensor.set_data_from_numpy(values)
    with pytest.raises(InferenceServerException) as raised:
        client.infer("iris", [tensor])
    assert raised.value.status() == f"StatusCode.{code}"
    data = values.tolist() if datatype == "INT32" or np.isfinite(values).all() else None
    if data is not None:  # the same request over HTTP (JSON cannot carry infinity) errs in the same words
        body = {"inputs": [{"name": "input", "datatype": datatype, "shape": shape, "data": data}]}
        assert raised.value.message() == http_error(served, body)
    else:
        assert raised.value.message() == "row 0: expected finite numbers"


def test_unknown_model_bad_version_and_unknown_output(client):
    grpcclient = triton()
    from tritonclient.utils import InferenceServerException

    tensor = grpcclient.InferInput("input", [1, 4], "FP64")
    tensor.set_data_from_numpy(np.array([SETOSA]))
    cases = [
        ({"model_name": "wine"}, "NOT_FOUND", "model 'wine' is not served"),
        ({"model_name": "iris", "model_version": "7"}, "NOT_FOUND", "7"),
        ({"model_name": "iris", "model_version": "-1"}, "INVALID_ARGUMENT", "a model version is a positive"),
        (
            {"model_name": "iris", "outputs": [grpcclient.InferRequestedOutput("logits")]},
            "INVALID_ARGUMENT",
            "unknown output logits; this model has predict, predict_proba",
        ),
    ]
    for arguments, code, words in cases:
        with pytest.raises(InferenceServerException) as raised:
            client.infer(inputs=[tensor], **arguments)
        assert raised.value.status() == f"StatusCode.{code}", arguments
        assert words in raised.value.message()


def test_malformed_contents_are_invalid_arguments(served):
    import grpc

    flat = [v for row in ROWS for v in row]
    cases = [
        # values in the field of another datatype
        (
            typed_request([("x", "FP64", [3, 4], "fp32_contents", flat)]),
            "FP64 values go in contents.fp64_contents",
        ),
        # too few values for the shape: the REST decoder's words
        (
            typed_request([("x", "FP64", [3, 4], "fp64_contents", flat[:-1])]),
            "11 values do not fill shape [3, 4]",
        ),
        # raw contents for one input of two
        (
            typed_request([("x", "FP64", [3, 4], "fp64_contents", [])], raw_input_contents=[b"", b""]),
            "raw_input_contents has 2 entries for 1 inputs",
        ),
        # raw bytes that do not hold the shape
        (
            typed_request([("x", "FP64", [3, 4], "fp64_contents", [])], raw_input_contents=[b"\0" * 8]),
            "8 bytes do not hold shape [3, 4] of FP64",
        ),
        # a datatype tabserve does not read, in its own contents field: named as over HTTP
        (
            typed_request([("x", "INT32", [1, 4], "int_contents", [5, 3, 1, 0])]),
            "input 'x': datatype INT32 not supported (FP64, FP32, INT64, BOOL, BYTES)",
        ),
        # a categorical value that is not UTF-8
        (typed_request([("x", "BYTES", [1, 4], "bytes_contents", [b"\xff"] * 4)]), "UTF-8"),
    ]
    channel, service = stub(served)
    try:
        for request, words in cases:
            with pytest.raises(grpc.RpcError) as raised:
                service.ModelInfer(request)
            assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT, words
            assert words in raised.value.details()
    finally:
        channel.close()


def test_a_message_past_the_byte_limit_is_refused(client):
    grpcclient = triton()
    from tritonclient.utils import InferenceServerException

    from tabserve.service.predict.core import body_limit

    too_long = "a" * (body_limit(MAX_ROWS) + 1)
    tensor = grpcclient.InferInput("sepal_length", [1], "BYTES")
    tensor.set_data_from_numpy(np.array([too_long.encode()], dtype=object))
    with pytest.raises(InferenceServerException) as raised:
        client.infer("iris", [tensor])
    assert raised.value.status() == "StatusCode.RESOURCE_EXHAUSTED"


def test_inference_needs_no_token_as_over_http(client, served):
    """The token guards train and promote; inference takes none, over gRPC as over HTTP."""
    grpcclient = triton()
    assert served[0].post("/models/iris/versions/1/promote").status_code == 401
    tensor = grpcclient.InferInput("input", [1, 4], "FP64")
    tensor.set_data_from_numpy(np.array([SETOSA]))
    assert labels_of(client.infer("iris", [tensor], headers={"authorization": "Bearer wrong"})) == ["setosa"]


# ---- configuration ----


def test_grpc_port_must_differ_from_the_http_port():
    from tabserve.errors import ConfigError

    with pytest.raises(ConfigError, match="give gRPC its own port"):
        load_settings(environ={}, overrides={"server": {"port": 6000, "grpc_port": 6000}})


# ---- a real server ----


@pytest.mark.slow
def test_tabserve_serve_answers_grpc_and_stops_both_on_sigterm(start_server, tmp_path, trained_iris):
    grpcclient = triton()
    grpc_port = free_port()
    config = write_config(tmp_path, copy_registry(trained_iris[0], tmp_path / "registry"))
    server = start_server(config, "--grpc-port", str(grpc_port))
    server.wait()
    client = grpcclient.InferenceServerClient(f"127.0.0.1:{grpc_port}")
    try:
        assert client.is_server_ready() and client.is_model_ready("iris")
        tensor = grpcclient.InferInput("input", [2, 4], "FP64")
        tensor.set_data_from_numpy(np.array(ROWS[:2]))
        assert labels_of(client.infer("iris", [tensor])) == ["setosa", "virginica"]
    finally:
        client.close()
    assert server.terminate() == 0, server.log()
    with socket.socket() as probe, pytest.raises(ConnectionRefusedError):
        probe.connect(("127.0.0.1", grpc_port))
    log = server.log()
    assert f"gRPC on 127.0.0.1:{grpc_port}" in log and "gRPC server stopped" in log


@pytest.mark.slow
def test_a_busy_grpc_port_is_one_clear_line(start_server, iris_config):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = start_server(iris_config, "--grpc-port", str(port))
        assert server.process.wait(60) != 0
    assert f"cannot serve gRPC on 127.0.0.1:{port}: the port is in use" in server.log()
    assert "Traceback" not in server.log()


def test_the_request_id_is_a_response_parameter_and_trailing_metadata(served):
    columns = [(n, "FP64", [3], "fp64_contents", [row[i] for row in ROWS]) for i, n in enumerate(NAMES)]
    channel, service = stub(served)
    try:
        response, call = service.ModelInfer.with_call(typed_request(columns))
        request_id = response.parameters["tabserve_request_id"].string_param
        assert dict(call.trailing_metadata())["x-tabserve-request-id"] == request_id
        assert len(request_id) >= 24
    finally:
        channel.close()
