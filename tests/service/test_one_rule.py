"""Each small rule of the serving side has one source, and the code and the OpenAPI document agree.

The version-number bound, the row limit and its message, the body-size limit
and the protocol error bodies are each checked here against what every route
that applies them answers. The app runs in process without its lifespan, so
nothing is loaded: these requests are refused (or found missing) before any
model is needed.
"""

from __future__ import annotations

import re

import anyio
import httpx
import numpy as np
import orjson
import pytest

from tabserve.config import Settings
from tabserve.inputs import BatchTooLargeError, check_row_limit
from tabserve.service.app import create_app, with_fast_predict
from tabserve.service.predict.core import body_limit
from tabserve.service.predict.version_numbers import (
    MAX_VERSION,
    VERSION_PATTERN,
    digits_pattern,
    parse_version,
)
from tabserve.service.protocols import ProtocolError
from tabserve.service.protocols.adapter import model_and_version
from tabserve.service.protocols.errors import ERROR_SCHEMA, error_reply, status_and_message
from tabserve.service.protocols.oip import routes as routes_oip
from tabserve.service.protocols.tabserve.handler import PredictHandler

NAMES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
LARGEST = str(MAX_VERSION)
TOO_LARGE = str(MAX_VERSION + 1)


def _post(app, path: str, **kwargs) -> httpx.Response:
    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            return await client.post(path, **kwargs)

    return anyio.run(call)


@pytest.fixture
def apps(settings: Settings):
    """The FastAPI app alone and behind the dispatcher, neither started (no lifespan)."""
    declared = create_app(settings)
    return {"declared": declared, "dispatched": with_fast_predict(create_app(settings))}


# ---- the version number ----


def test_the_largest_version_is_accepted_and_the_next_refused_by_the_parser_and_the_pattern():
    assert MAX_VERSION == 2_147_483_647
    pattern = re.compile(VERSION_PATTERN)
    assert parse_version(LARGEST) == MAX_VERSION and pattern.match(LARGEST)
    assert parse_version(TOO_LARGE) is None and not pattern.match(TOO_LARGE)
    assert model_and_version(f"/v2/models/iris/versions/{LARGEST}/infer", "/v2/models/", "/infer") == (
        "iris",
        MAX_VERSION,
    )
    assert model_and_version(f"/v2/models/iris/versions/{TOO_LARGE}/infer", "/v2/models/", "/infer") is None
    assert routes_oip.parse_version(LARGEST) == MAX_VERSION
    with pytest.raises(ProtocolError):
        routes_oip.parse_version(TOO_LARGE)


@pytest.mark.parametrize("top", [1, 9, 10, 99, 100, 305, 1000, 2024])
def test_the_digits_pattern_matches_exactly_what_the_parser_takes_up_to_its_bound(top):
    pattern = re.compile(digits_pattern(top))
    texts = [str(n) for n in range(top * 3 + 12)] + [
        "",
        "0",
        "00",
        "-1",
        "+1",
        "1.0",
        " 1",
        "01",
        "0" + str(top),
    ]
    for text in texts:
        expected = text.isascii() and text.isdigit() and 1 <= int(text) <= top
        assert bool(pattern.match(text)) == expected, (top, text)


def test_the_openapi_document_states_the_bound_the_code_checks(settings: Settings):
    document = create_app(settings).openapi()
    paths = document["paths"]
    oip = paths["/v2/models/{name}/versions/{version}/infer"]["post"]["parameters"]
    (oip_version,) = [p for p in oip if p["name"] == "version"]
    assert oip_version["schema"]["pattern"] == VERSION_PATTERN
    predict = paths["/models/{name}/versions/{version}/predict"]["post"]["parameters"]
    (predict_version,) = [p for p in predict if p["name"] == "version"]
    assert predict_version["schema"]["maximum"] == MAX_VERSION
    drift = paths["/models/{name}/drift"]["get"]["parameters"]
    (drift_version,) = [p for p in drift if p["name"] == "version"]
    assert any(option.get("maximum") == MAX_VERSION for option in drift_version["schema"]["anyOf"])


@pytest.mark.parametrize("way", ["declared", "dispatched"])
def test_every_predict_path_takes_the_largest_version_and_refuses_the_next(apps, way):
    app = apps[way]
    body = {"content": b"[1, 2, 3, 4]", "headers": {"content-type": "application/json"}}
    # Accepted: the request gets as far as looking for the version (the registry has none).
    assert _post(app, f"/models/iris/versions/{LARGEST}/predict", **body).status_code == 404
    assert _post(app, f"/v2/models/iris/versions/{LARGEST}/infer", **body).status_code == 404
    refused = _post(app, f"/models/iris/versions/{TOO_LARGE}/predict", **body)
    assert refused.status_code == 422 and "version" in refused.text
    refused = _post(app, f"/v2/models/iris/versions/{TOO_LARGE}/infer", **body)
    assert refused.status_code == 400 and refused.json() == {"error": "a model version is a positive integer"}


# ---- the body-size limit ----


@pytest.mark.parametrize("way", ["declared", "dispatched"])
@pytest.mark.parametrize(
    "path",
    ["/predict", "/models/iris/predict", "/v2/models/iris/infer", "/invocations", "/v1/models/iris:predict"],
)
def test_every_protocol_refuses_a_body_over_the_one_limit(settings: Settings, apps, way, path):
    limit = body_limit(settings.server.max_batch_rows)
    headers = {"content-type": "application/json", "content-length": str(limit + 1)}
    answer = _post(apps[way], path, content=b" " * (limit + 1), headers=headers)
    assert answer.status_code == 413
    assert f"the body is larger than the limit of {limit} bytes" in answer.text


# ---- the row limit ----


def test_every_way_rows_arrive_gives_the_one_row_limit_message(core):
    predictor = core.production()
    rows = [[5.1, 3.5, 1.4, 0.2]] * 4
    with pytest.raises(BatchTooLargeError) as expected:
        check_row_limit(4, 3)
    assert str(expected.value) == "4 rows is more than the limit of 3 rows per request"
    big_json = orjson.dumps({"instances": rows}).ljust(8192)  # big enough for the numeric codec
    attempts = [
        lambda: core.rows(predictor, {"instances": rows}),
        lambda: core.matrix(predictor, np.array(rows)),
        lambda: core.columns(predictor, {name: [1.0] * 4 for name in NAMES}),
        lambda: PredictHandler(core).answer(predictor, big_json, False, False),
        lambda: PredictHandler(core).answer(
            predictor, b"\n".join([",".join(NAMES).encode(), *[b"1,2,3,4"] * 4]).ljust(8192), True, False
        ),
    ]
    for attempt in attempts:
        with pytest.raises(BatchTooLargeError) as found:
            attempt()
        assert str(found.value) == str(expected.value)


# ---- the protocol error bodies ----


def test_protocol_errors_share_one_status_and_message():
    error = ProtocolError("the tensor 'x' has no data")
    assert status_and_message(error) == (400, "the tensor 'x' has no data")
    reply = error_reply(error, lambda status, message: orjson.dumps({"status": status, "message": message}))
    assert reply.status == 400 and reply.media == b"application/json"
    assert orjson.loads(reply.body) == {"status": 400, "message": "the tensor 'x' has no data"}
    hidden = status_and_message(RuntimeError("secret /etc/passwd"))
    assert hidden[0] == 500 and "passwd" not in hidden[1]


def test_oip_and_kserve_document_the_same_error_body(settings: Settings):
    paths = create_app(settings).openapi()["paths"]
    oip = paths["/v2/models/{name}/infer"]["post"]["responses"]["400"]["content"]["application/json"]
    kserve = paths["/v1/models/{name}:predict"]["post"]["responses"]["400"]["content"]["application/json"]
    assert oip["schema"] == kserve["schema"] == ERROR_SCHEMA
