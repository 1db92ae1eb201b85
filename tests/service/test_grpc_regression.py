"""A regression model over OIP gRPC: FP64 ``predict``, and ``predict_interval`` FP64 [N, 2] when the
request's parameters ask for a coverage, the same numbers the HTTP OIP route answers."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from tabserve.config import load_settings
from tabserve.workflow import train_and_register
from tests.service.test_grpc import triton
from tests.support.servers import register_copy, serve_in_thread

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
OIP_INPUTS = [
    ("area", "FP64", [100.0, 55.5, 140.0]),
    ("rooms", "FP64", [3.0, 1.0, 5.0]),
    ("age", "FP64", [20.0, 30.0, 5.0]),
    ("district", "BYTES", ["north", "south", "east"]),
]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """(HTTP client, gRPC address) of one in-process server with the shipped regression example
    (v1, with residuals) and v2, its model file registered again without them."""
    triton()
    from tabserve.service.app import create_app, with_fast_predict
    from tabserve.service.deps import grpc_port

    root = tmp_path_factory.mktemp("grpc-regression")
    config = yaml.safe_load((EXAMPLES / "regression.yaml").read_text())
    config["data"]["path"] = str(EXAMPLES / "houses.csv")
    config["search"] = {**config.get("search", {}), "n_jobs": 1}
    config["registry"] = {
        "url": f"sqlite:///{root / 'registry.db'}",
        "artifacts": str(root / "artifacts"),
        "pictures": False,
    }
    config["logging"] = {"file": None}
    config["server"] = {"grpc_port": 0}
    path = root / "tabserve.yaml"
    path.write_text(yaml.safe_dump(config))
    train_and_register(load_settings(path, environ={}))
    register_copy(path)
    app = create_app(load_settings(path, environ={}))
    with serve_in_thread(with_fast_predict(app)) as client:
        deadline = time.monotonic() + 60
        while client.get("/readyz").status_code != 200:
            assert time.monotonic() < deadline, client.get("/readyz").text
            time.sleep(0.05)
        yield client, f"127.0.0.1:{grpc_port(app)}"


@pytest.fixture(scope="module")
def client(served):
    grpcclient = triton()
    opened = grpcclient.InferenceServerClient(served[1])
    yield opened
    opened.close()


def _inputs():
    grpcclient = triton()
    built = []
    for name, datatype, values in OIP_INPUTS:
        tensor = grpcclient.InferInput(name, [len(values)], datatype)
        tensor.set_data_from_numpy(np.asarray(values, dtype=object if datatype == "BYTES" else np.float64))
        built.append(tensor)
    return built


def _http(served, parameters: dict | None = None, version: str = "") -> dict:
    body = {"inputs": [{"name": n, "datatype": d, "shape": [len(v)], "data": v} for n, d, v in OIP_INPUTS]}
    if parameters:
        body["parameters"] = parameters
    path = f"/v2/models/houses{'/versions/' + version if version else ''}/infer"
    response = served[0].post(path, json=body)
    assert response.status_code == 200, response.text
    return {output["name"]: output for output in response.json()["outputs"]}


def test_predict_is_fp64_values_as_over_http(client, served):
    result = client.infer("houses", _inputs())
    answer = result.get_response()
    assert [(o.name, o.datatype, list(o.shape)) for o in answer.outputs] == [("predict", "FP64", [3])]
    np.testing.assert_allclose(
        result.as_numpy("predict"), _http(served)["predict"]["data"], rtol=0, atol=1e-9
    )


def test_an_interval_parameter_adds_predict_interval_fp64_n_by_2(client, served):
    result = client.infer("houses", _inputs(), parameters={"interval": 0.9})
    answer = result.get_response()
    by_name = {o.name: o for o in answer.outputs}
    interval = by_name["predict_interval"]
    assert interval.datatype == "FP64" and list(interval.shape) == [3, 2]
    assert interval.parameters["coverage"].double_param == 0.9
    bounds = result.as_numpy("predict_interval")
    values = result.as_numpy("predict")
    http = _http(served, {"interval": 0.9})
    np.testing.assert_allclose(bounds.reshape(-1), http["predict_interval"]["data"], rtol=0, atol=1e-9)
    assert (bounds[:, 0] < values).all() and (values < bounds[:, 1]).all()
    half = bounds[:, 1] - values
    np.testing.assert_allclose(values - bounds[:, 0], half, atol=1e-9)
    wider = client.infer("houses", _inputs(), parameters={"interval": 0.95}).as_numpy("predict_interval")
    assert (wider[:, 1] - values > half).all()


def test_asking_for_the_interval_output_alone(client):
    grpcclient = triton()
    wanted = [grpcclient.InferRequestedOutput("predict_interval")]
    result = client.infer("houses", _inputs(), outputs=wanted, parameters={"interval": 0.8})
    assert [o.name for o in result.get_response().outputs] == ["predict_interval"]
    assert result.as_numpy("predict_interval").shape == (3, 2)


@pytest.mark.parametrize(
    ("parameters", "outputs", "words"),
    [
        ({"interval": 1.5}, None, "interval: coverage must be a number strictly between 0 and 1"),
        ({"interval": "0.9"}, None, "interval: coverage must be a number"),
        ({}, ["predict_interval"], "output 'predict_interval' needs a coverage"),
    ],
)
def test_a_bad_or_missing_coverage_is_an_invalid_argument_naming_interval(client, parameters, outputs, words):
    grpcclient = triton()
    from tritonclient.utils import InferenceServerException

    wanted = [grpcclient.InferRequestedOutput(name) for name in outputs] if outputs else None
    with pytest.raises(InferenceServerException) as raised:
        client.infer("houses", _inputs(), outputs=wanted, parameters=parameters)
    assert raised.value.status() == "StatusCode.INVALID_ARGUMENT"
    assert words in raised.value.message()


def test_a_version_without_residuals_says_why_it_has_no_intervals(client):
    from tritonclient.utils import InferenceServerException

    plain = client.infer("houses", _inputs(), model_version="2")
    assert plain.as_numpy("predict").shape == (3,)
    with pytest.raises(InferenceServerException) as raised:
        client.infer("houses", _inputs(), model_version="2", parameters={"interval": 0.9})
    assert "has no hold-out residuals" in raised.value.message()


def test_a_classifier_refuses_an_interval_over_grpc(tmp_path, trained_iris):
    """The iris server of test_grpc, asked for an interval: refused with the HTTP words."""
    from tritonclient.utils import InferenceServerException

    from tabserve.service.app import create_app, with_fast_predict
    from tabserve.service.deps import grpc_port
    from tests.support.servers import copy_registry, write_config

    grpcclient = triton()
    config = write_config(
        tmp_path, copy_registry(trained_iris[0], tmp_path / "registry"), server={"grpc_port": 0}
    )
    app = create_app(load_settings(config, environ={}))
    with serve_in_thread(with_fast_predict(app)) as http:
        deadline = time.monotonic() + 60
        while http.get("/readyz").status_code != 200:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        client = grpcclient.InferenceServerClient(f"127.0.0.1:{grpc_port(app)}")
        row = grpcclient.InferInput("input", [1, 4], "FP64")
        row.set_data_from_numpy(np.asarray([[5.1, 3.8, 1.5, 0.3]]))
        try:
            with pytest.raises(InferenceServerException) as raised:
                client.infer("iris", [row], parameters={"interval": 0.9})
        finally:
            client.close()
    assert "intervals are for regression models" in raised.value.message()
