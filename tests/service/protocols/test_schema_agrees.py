"""/openapi.json and behaviour agree on the cases schemathesis found (issue 9, finding 12).

Each rule the server applies is stated in the schema, and each type the schema
states is applied: strict booleans, whole-number versions in range, no body
the schema allows but the server refuses, the bearer scheme only when a token
is set, one Content-Type per request, and 405 with every method the path takes.
"""

from __future__ import annotations

import httpx
import pytest

from tabserve.config import load_settings
from tabserve.service.app import create_app
from tests.support.prediction_ids import masked_json
from tests.support.servers import copy_registry, serve_in_thread, write_config

SETOSA = [5.1, 3.8, 1.5, 0.3]
PREDICT_PATHS = ["/predict", "/models/iris/predict", "/models/iris/versions/1/predict"]
PROTOCOL_BODIES = (  # answered on the protocol fast path (OIP infer, MLflow) when it is in front
    (
        "/v2/models/iris/infer",
        b'{"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP64", "data": [5.1, 3.8, 1.5, 0.3]}]}',
    ),
    ("/invocations", b'{"instances": [[5.1, 3.8, 1.5, 0.3]]}'),
)


@pytest.fixture(params=["fast-path", "declared-route"])
def client(request, app_server) -> httpx.Client:
    if request.param == "fast-path":
        return app_server.client
    return request.getfixturevalue("declared_client")


def _predict_body_schema(spec: dict) -> dict:
    return spec["paths"]["/predict"]["post"]["requestBody"]["content"]


@pytest.mark.parametrize("path", PREDICT_PATHS)
@pytest.mark.parametrize(
    "query", ["labels_only=yes", "labels_only=null", "labels_only=1", "labels_only=true&labels_only=true"]
)
def test_labels_only_in_the_query_is_true_or_false_once(client, path, query):
    answer = client.post(f"{path}?{query}", json=SETOSA)
    assert answer.status_code == 422, answer.text
    assert "labels_only" in answer.json()["detail"]
    assert client.post(f"{path}?labels_only=false", json=SETOSA).json()["probabilities"]
    assert "probabilities" not in client.post(f"{path}?labels_only=true", json=SETOSA).json()


@pytest.mark.parametrize("path", PREDICT_PATHS)
@pytest.mark.parametrize("flag", ["yes", None, 1, "true"])
def test_labels_only_in_the_body_is_a_json_boolean(client, path, flag):
    for body in (
        {"instances": [SETOSA], "labels_only": flag},
        {
            "columns": ["sepal_length", "sepal_width", "petal_length", "petal_width"],
            "data": [SETOSA],
            "labels_only": flag,
        },
    ):
        answer = client.post(path, json=body)
        assert answer.status_code == 422, answer.text
        assert "labels_only" in answer.json()["detail"]


def test_the_schema_states_the_body_rules_the_server_applies(app_server):
    spec = app_server.client.get("/openapi.json").json()
    content = _predict_body_schema(spec)
    csv = content["text/csv"]["schema"]
    assert csv["minLength"] == 1 and csv["pattern"] == "\\S"  # an empty or blank CSV body is a 400
    assert "400" in spec["paths"]["/predict"]["post"]["responses"]
    columnar = next(s for s in content["application/json"]["schema"]["oneOf"] if s.get("title") == "Columnar")
    columns = columnar["properties"]["columns"]
    assert columns["items"]["minLength"] == 1 and columns["uniqueItems"] is True
    train = spec["paths"]["/train"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    candidate = train["properties"]["candidates"]["items"]
    assert candidate["required"] == ["estimator"] and candidate["additionalProperties"] is False
    for blank in (b"", b"  \n"):
        answer = app_server.client.post("/predict", content=blank, headers={"content-type": "text/csv"})
        assert answer.status_code == 400, answer.text
    answer = app_server.client.post("/predict", json={"columns": [""], "data": [[None]]})
    assert answer.status_code == 422, answer.text


def test_the_bearer_scheme_is_in_the_schema_only_when_a_token_is_set(app_server, tmp_path, trained_iris):
    open_spec = app_server.client.get("/openapi.json").json()
    assert "securitySchemes" not in open_spec.get("components", {})
    for operation in ("/train", "/models/{name}/rollback", "/models/{name}/versions/{version}/promote"):
        post = open_spec["paths"][operation]["post"]
        assert "security" not in post and "401" not in post["responses"]
    config = write_config(
        tmp_path, copy_registry(trained_iris[0], tmp_path / "registry"), server={"token": "t0ken"}
    )
    with serve_in_thread(create_app(load_settings(config, environ={}))) as client:
        spec = client.get("/openapi.json").json()
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    for operation in ("/train", "/models/{name}/rollback", "/models/{name}/versions/{version}/promote"):
        post = spec["paths"][operation]["post"]
        assert post["security"] == [{"HTTPBearer": []}] and "401" in post["responses"]


@pytest.mark.parametrize("version", ["1.0", "+1", "01.5", "18446744073709551616", "2147483648", "0"])
def test_a_version_in_the_path_is_a_whole_number_in_range(client, version):
    for method, path in (
        ("GET", f"/models/iris/versions/{version}"),
        ("POST", f"/models/iris/versions/{version}/predict"),
        ("GET", f"/models/iris/versions/{version}/confusion_matrix.png"),
    ):
        answer = client.request(method, path, json=SETOSA)
        assert answer.status_code == 422, (path, answer.text)
        assert "version" in answer.json()["detail"]


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("GET", "/models/iris/rollback", "POST"),
        ("GET", "/models/iris/versions/1/promote", "POST"),
        ("GET", "/models/iris/train", "POST"),
        ("GET", "/v1/models/iris:predict", "POST"),
        ("OPTIONS", "/models/iris/shadow", "GET, DELETE"),
        ("PUT", "/predict", "POST"),
    ],
)
def test_a_method_the_path_does_not_take_is_405_naming_every_method_it_does(app_server, method, path, allow):
    answer = app_server.client.request(method, path)
    assert answer.status_code == 405, answer.text
    assert answer.headers["allow"] == allow
    assert answer.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    "path", ["/predict", "/models/iris/versions/1/predict", "/train", "/v1/models/iris:predict"]
)
def test_two_content_type_headers_are_refused_before_any_route(socket_server, path):
    headers = [("content-type", "text/csv"), ("content-type", "application/json")]
    answer = socket_server.client.post(path, content=b"[5.1, 3.8, 1.5, 0.3]", headers=headers)
    assert answer.status_code == 400, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert "more than one Content-Type" in answer.json()["detail"]
    assert socket_server.client.post("/predict", json=SETOSA).status_code == 200  # one header: served


def test_the_fast_path_reads_the_first_content_type_like_the_declared_route(declared_client, app_server):
    """Without the guard in front (the app alone, in process) every path takes the first header."""
    headers = [("content-type", "application/json"), ("content-type", "text/csv")]
    answers = [
        (
            app_server.client.post(path, content=body, headers=headers),
            declared_client.post(path, content=body, headers=headers),
        )
        for path, body in (("/predict", b"[5.1, 3.8, 1.5, 0.3]"), *PROTOCOL_BODIES)
    ]
    for by_fast, by_declared in answers:
        assert by_fast.status_code == by_declared.status_code == 200, (by_fast.text, by_declared.text)
        assert masked_json(by_fast) == masked_json(by_declared)
