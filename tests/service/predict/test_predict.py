"""The predict routes: every accepted shape, CSV, and every kind of bad input.

Each test runs through both ways a request can be answered, in process: the app
a server runs (the ASGI fast path in front of FastAPI), and the FastAPI-declared
route alone (the app without the fast path), on the default route, the model's
route and the version's route; ``test_both_paths_answer_byte_for_byte_alike``
compares the two directly. What only a socket shows (the HTTP guard's limits)
is in tests/service/http/test_http_guard.py.
"""

from __future__ import annotations

import pytest

from tests.support.prediction_ids import masked

IRIS_COLUMNS = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
SETOSA = [5.1, 3.8, 1.5, 0.3]
VIRGINICA = [6.9, 3.1, 5.4, 2.1]
PROBLEM = "application/problem+json"
PATHS = ["/predict", "/models/iris/predict", "/models/iris/versions/1/predict"]


@pytest.fixture(params=["fast-path", "declared-route"])
def client(request, app_server):
    if request.param == "fast-path":
        return app_server.client
    return request.getfixturevalue("declared_client")


@pytest.fixture(params=PATHS, ids=["default", "model", "version"])
def path(request) -> str:
    return request.param


def test_seed_bare_list_answers_setosa_with_and_without_content_type(client, path):
    for headers in (
        {"content-type": "application/json"},
        {},
        {"content-type": "application/x-www-form-urlencoded"},
    ):
        response = client.post(path, content=b"[5.1, 3.8, 1.5, 0.3]", headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["labels"] == ["setosa"]
        assert body["model"] == "iris" and body["version"] == 1
        assert body["classes"] == ["setosa", "versicolor", "virginica"]
        assert set(body["probabilities"]) == set(body["classes"])
        assert body["probabilities"]["setosa"][0] > 0.9


def test_seed_trailing_slash_route_is_served(client):
    response = client.post("/predict/", json=SETOSA)
    assert response.status_code == 200
    assert response.json()["labels"] == ["setosa"]


@pytest.mark.parametrize(
    "payload",
    [
        {"instances": [SETOSA, VIRGINICA]},
        {
            "instances": [
                dict(zip(IRIS_COLUMNS, SETOSA, strict=True)),
                dict(zip(IRIS_COLUMNS, VIRGINICA, strict=True)),
            ]
        },
        {"columns": IRIS_COLUMNS, "data": [SETOSA, VIRGINICA]},
        {"columns": IRIS_COLUMNS[::-1], "data": [SETOSA[::-1], VIRGINICA[::-1]]},
        [SETOSA, VIRGINICA],
    ],
    ids=["rows", "records", "columnar", "columnar-reordered", "list-of-rows"],
)
def test_batch_shapes_agree(client, path, payload):
    response = client.post(path, json=payload)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["labels"] == ["setosa", "virginica"]
    for row in range(2):
        assert sum(body["probabilities"][c][row] for c in body["classes"]) == pytest.approx(1.0)


def test_labels_only_in_body_or_query_drops_probabilities(client, path):
    by_body = client.post(path, json={"instances": [SETOSA], "labels_only": True}).json()
    by_query = client.post(f"{path}?labels_only=true", json=SETOSA).json()
    for body in (by_body, by_query):
        assert body["labels"] == ["setosa"]
        assert "probabilities" not in body


def test_csv_in_gives_csv_out(client, path):
    csv_body = "petal_width,petal_length,sepal_width,sepal_length\n0.3,1.5,3.8,5.1\n2.1,5.4,3.1,6.9\n"
    response = client.post(path, content=csv_body, headers={"content-type": "text/csv"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    lines = response.text.strip().splitlines()
    assert lines[0] == "prediction,proba_setosa,proba_versicolor,proba_virginica"
    assert [line.split(",")[0] for line in lines[1:]] == ["setosa", "virginica"]
    labels_only = client.post(
        f"{path}?labels_only=true", content=csv_body, headers={"content-type": "text/csv"}
    )
    assert labels_only.text.split() == ["prediction", "setosa", "virginica"]


def test_batch_at_the_limit_is_served(client, path):
    response = client.post(path, json={"columns": IRIS_COLUMNS, "data": [SETOSA] * 10_000})
    assert response.status_code == 200
    assert len(response.json()["labels"]) == 10_000


BAD_JSON_INPUTS = [
    ([5.1, 3.8, 1.5], 422, "expected 4 values"),
    (
        {"instances": [{"sepal_length": 5.1, "sepal_width": 3.8, "petal_length": 1.5}]},
        422,
        "missing column(s) petal_width",
    ),
    (
        {"instances": [{**dict(zip(IRIS_COLUMNS, SETOSA, strict=True)), **{f"x{i}": 1 for i in range(101)}}]},
        422,
        "row 0 has 105 columns, more than the limit of 104",
    ),
    ({"columns": ["a", "b", "c", "d"], "data": [SETOSA]}, 422, "missing column(s) sepal_length"),
    ([5.1, 3.8, "wide", 0.3], 422, "row 0, column 'petal_length': expected a number"),
    ({"instances": [SETOSA, [5.1, True, 1.5, 0.3]]}, 422, "row 1, column 'sepal_width'"),
    ([], 422, "empty"),
    ({"instances": []}, 422, "empty"),
    ({"rows": [SETOSA]}, 422, "expected a list of values"),
    ("setosa", 422, "expected a JSON list or object"),
    ({"columns": IRIS_COLUMNS}, 422, "needs both 'columns' and 'data'"),
]


@pytest.mark.parametrize(("payload", "status", "message"), BAD_JSON_INPUTS)
def test_bad_input_is_a_4xx_problem_naming_what_was_wrong(client, path, payload, status, message):
    response = client.post(path, json=payload)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    problem = response.json()
    assert problem["status"] == status
    assert message in problem["detail"]


@pytest.mark.parametrize(
    ("body", "headers", "status", "message"),
    [
        (b"[5.1, 3.8", {"content-type": "application/json"}, 400, "not valid JSON"),
        (b"", {"content-type": "application/json"}, 400, "empty"),
        (b"[5.1, 3.8, 1e999, 0.3]", {"content-type": "application/json"}, 400, "infinity"),
        (b"<row>5.1</row>", {"content-type": "application/xml"}, 415, "application/json or text/csv"),
        (b"\xff\xfe", {"content-type": "text/csv"}, 400, "not UTF-8"),
        (
            b"sepal_length,sepal_width,petal_length,petal_width\n5.1,3.8,inf,0.3\n",
            {"content-type": "text/csv"},
            422,
            "row 0, column 'petal_length': expected a finite number",
        ),
        (
            b"sepal_length,sepal_width,petal_length,petal_width\n5.1,3.8,abc,0.3\n",
            {"content-type": "text/csv"},
            422,
            "row 0, column 'petal_length': expected a number",
        ),
        (b"sepal_length,sepal_width\n5.1,3.8\n", {"content-type": "text/csv"}, 422, "missing column(s)"),
        (
            b"sepal_length,sepal_width,petal_length,petal_width\n5.1,3.8\n",
            {"content-type": "text/csv"},
            422,
            "row 0",
        ),
    ],
    ids=[
        "truncated",
        "empty",
        "infinity",
        "xml",
        "not-utf8",
        "csv-inf",
        "csv-text",
        "csv-missing",
        "csv-short",
    ],
)
def test_bad_bodies_and_content_types(client, path, body, headers, status, message):
    response = client.post(path, content=body, headers=headers)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    assert message in response.json()["detail"]


def test_too_many_rows_is_413_with_the_limit(client, path):
    response = client.post(path, json={"instances": [SETOSA] * 10_001})
    assert response.status_code == 413
    assert "10000" in response.json()["detail"]


def test_body_over_the_size_limit_is_413(client, path):
    body = b"[" + b" " * 11_000_000 + b"5.1, 3.8, 1.5, 0.3]"
    response = client.post(path, content=body, headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert "bytes" in response.json()["detail"]


def test_errors_never_echo_the_whole_input(client, path):
    secret = "x" * 5000
    for payload in (
        [5.1, 3.8, secret, 0.3],
        {"instances": [{secret: 1}]},
        {"columns": [secret], "data": [[1]]},
    ):
        response = client.post(path, json=payload)
        assert response.status_code == 422
        assert len(response.text) < 1000
        assert secret[:100] not in response.text


def test_other_methods_on_predict_are_405(client, path):
    response = client.get(path)
    assert response.status_code == 405
    assert response.headers["content-type"] == PROBLEM


def test_unknown_query_parameters_are_refused_by_name(client, path):
    response = client.post(f"{path}?version=2", json=SETOSA)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    detail = response.json()["detail"]
    assert "'version'" in detail and "/models/{name}/versions/{version}/predict" in detail
    other = client.post(f"{path}?labels_only=true&explain=yes", json=SETOSA)
    assert other.status_code == 422 and "'explain'" in other.json()["detail"]


def test_a_version_that_does_not_exist_is_a_404(client):
    response = client.post("/models/iris/versions/42/predict", json=SETOSA)
    assert response.status_code == 404
    assert "42" in response.json()["detail"]


SAME_ANSWER_REQUESTS = [
    ("/predict", {"content": b"[5.1, 3.8, 1.5, 0.3]"}),
    ("/predict/", {"json": {"instances": [SETOSA, VIRGINICA], "labels_only": True}}),
    ("/models/iris/predict", {"json": {"columns": IRIS_COLUMNS, "data": [SETOSA] * 300}}),
    ("/models/iris/versions/1/predict", {"json": [SETOSA, VIRGINICA]}),
    (
        "/predict?labels_only=true",
        {"content": b"petal_width,sepal_length\n", "headers": {"content-type": "text/csv"}},
    ),
    ("/predict", {"content": b"[5.1, 3.8", "headers": {"content-type": "application/json"}}),
    ("/predict", {"json": [5.1, "wide", 1.5, 0.3]}),
    ("/predict?version=1", {"json": SETOSA}),
    ("/models/wine/predict", {"json": SETOSA}),
    ("/models/iris/versions/9/predict", {"json": SETOSA}),
    ("/predict", {"content": b"<row/>", "headers": {"content-type": "application/xml"}}),
    (
        "/predict",
        {"content": b"[" + b" " * 11_000_000 + b"]", "headers": {"content-type": "application/json"}},
    ),
]


@pytest.mark.parametrize(("path", "request_kwargs"), SAME_ANSWER_REQUESTS)
def test_both_paths_answer_byte_for_byte_alike(app_server, declared_client, path, request_kwargs):
    fast = app_server.client.post(path, **request_kwargs)
    declared = declared_client.post(path, **request_kwargs)
    assert fast.status_code == declared.status_code, (fast.text, declared.text)
    assert fast.headers["content-type"] == declared.headers["content-type"]
    assert masked(fast.content) == masked(declared.content)


def test_a_content_type_answers_alike_every_time_it_is_sent(client, path):
    """Accepted Content-Types are remembered as sent; a refused one is refused again."""
    csv = b"sepal_length,sepal_width,petal_length,petal_width\n5.1,3.8,1.5,0.3\n"
    for _ in range(2):
        assert client.post(path, content=csv, headers={"content-type": "text/csv"}).text.startswith(
            "prediction"
        )
        as_json = client.post(
            path, content=b"[5.1, 3.8, 1.5, 0.3]", headers={"content-type": "application/json"}
        )
        assert as_json.json()["labels"] == ["setosa"]
        refused = client.post(path, content=b"<row/>", headers={"content-type": "application/xml"})
        assert refused.status_code == 415
