"""KServe V1's ``POST /v1/models/{name}:predict`` as a dispatcher adapter.

Labels of ``instances`` from the model's production version; errors as
``{"error": ...}``. A name with '/' or ':' matches nothing here and goes to
FastAPI (whose declared routes answer it). The declared route calls
``check_predict_media`` and ``predict_answer`` too, so both answer alike.
"""

from __future__ import annotations

from tabserve.service.http.bodies import check_media, decode_json, media_type, read_body
from tabserve.service.predict.core import PredictCore
from tabserve.service.protocols.adapter import RawRequest, Reply, Route
from tabserve.service.protocols.errors import JSON_CT, error_reply
from tabserve.service.protocols.kserve_v1 import codec as kserve_v1

V1_PREFIX = "/v1/models/"
PREDICT_SUFFIX = ":predict"
PREDICT_LABEL = "/v1/models/{name:kserve_name}:predict"  # the declared route's template


def error_body(status: int, message: str) -> bytes:
    """KServe V1's error body (the status is carried by the response alone)."""
    return kserve_v1.error_body(message)


def check_predict_media(content_type: bytes | str | None) -> None:
    """JSON only; 415 naming what to send otherwise."""
    check_media(media_type(content_type))


def predict_answer(core: PredictCore, model: str, body: bytes) -> bytes:
    """The JSON answer to a ``:predict`` body; errors propagate."""
    predictor = core.production(model)
    batch = kserve_v1.decode_request(core, predictor, decode_json(body))
    result = core.predict(predictor, batch, protocol="kserve_v1", labels_only=True)
    return kserve_v1.encode_response(result)


def predict_target(path: str) -> Route | None:
    """The route of a ``:predict`` path whose name has no '/' or ':', else None."""
    if not (path.startswith(V1_PREFIX) and path.endswith(PREDICT_SUFFIX)):
        return None
    name = path[len(V1_PREFIX) : -len(PREDICT_SUFFIX)]
    if not name or "/" in name or ":" in name:
        return None
    return Route(PREDICT_LABEL, name)


class KserveV1Adapter:
    """KServe V1 ``:predict`` on the predict core."""

    def __init__(self, core: PredictCore) -> None:
        self.core = core

    def match(self, path: str, method: str) -> Route | None:
        return predict_target(path) if method == "POST" else None

    async def handle(self, route: Route, request: RawRequest) -> Reply:
        check_predict_media(request.content_type)
        body = await read_body(request.receive, self.core.body_limit, request.content_length)
        return Reply(200, JSON_CT, predict_answer(self.core, route.model or "", body))

    def error(self, exc: BaseException) -> Reply:
        return error_reply(exc, error_body)
