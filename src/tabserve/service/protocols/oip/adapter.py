"""OIP v2 infer as a dispatcher adapter: ``POST /v2/models/{name}[/versions/{v}]/infer``.

Decode (JSON or the binary tensor extension; big bodies in a worker thread) ->
predict core -> encode; named inputs the model does not take are ignored and
named in the answer's headers; errors as ``{"error": ...}``. The declared
infer routes call ``check_infer_media`` and ``infer_answer`` too, so both
answer and fail alike.
"""

from __future__ import annotations

from collections.abc import Sequence

from tabserve.service.http.bodies import is_json, media_type, read_body
from tabserve.service.http.errors import UnsupportedMediaTypeError
from tabserve.service.predict.core import PredictCore, ignored_headers, request_id_header
from tabserve.service.protocols.adapter import Headers, RawRequest, Reply, Route, model_and_version
from tabserve.service.protocols.errors import error_reply
from tabserve.service.protocols.oip import codec as oip

V2_PREFIX = "/v2/models/"
INFER_SUFFIX = "/infer"
INFER_LABEL = "/v2/models/{name}/infer"
VERSION_INFER_LABEL = "/v2/models/{name}/versions/{version}/infer"
_HEADER_LENGTH = oip.HEADER_LENGTH.encode()


def error_body(status: int, message: str) -> bytes:
    """OIP's error body (the status is carried by the response alone)."""
    return oip.error_body(message)


def check_infer_media(content_type: bytes | str | None) -> None:
    """JSON, or the binary extension's octet-stream; 415 naming what to send otherwise."""
    media = media_type(content_type)
    if not is_json(media) and media != "application/octet-stream":
        raise UnsupportedMediaTypeError(
            f"Content-Type '{media[:60]}' is not accepted; send application/json or application/octet-stream"
        )


async def infer_answer(
    core: PredictCore,
    model: str,
    version: int | None,
    body: bytes,
    header_length: str | None,
    headers: Sequence[tuple[bytes, bytes]] = (),
) -> tuple[bytes, bytes, Headers]:
    """Content type, body and headers (binary header length, ignored inputs) of a successful infer;
    errors propagate. ``headers``: the request's, for a canary's routing key."""
    if version is None:
        predictor = core.production(model, headers)
    else:
        predictor = await core.version(model, version)
    request = await core.off_loop(len(body), oip.decode_request, core, predictor, body, header_length)
    labels_only = "predict_proba" not in request.outputs
    # A classifier asked for an interval refuses it (the core says why); a regressor computes one if sent.
    wanted = "predict_interval" in request.outputs or not predictor.is_regression
    interval = request.interval if wanted else None
    result = core.predict(
        predictor, request.batch, protocol="oip", labels_only=labels_only, interval=interval
    )
    media, payload, binary_at = oip.encode_response(result, request)
    headers = [request_id_header(result.request_id), *ignored_headers(result.ignored)]
    if binary_at is not None:
        headers.append((_HEADER_LENGTH, str(binary_at).encode()))
    return media, payload, headers


def infer_target(path: str) -> Route | None:
    """The route of an OIP infer path, else None."""
    found = model_and_version(path, V2_PREFIX, INFER_SUFFIX)
    if found is None:
        return None
    model, version = found
    return Route(INFER_LABEL if version is None else VERSION_INFER_LABEL, model, version)


class OipAdapter:
    """OIP v2 infer on the predict core."""

    def __init__(self, core: PredictCore) -> None:
        self.core = core

    def match(self, path: str, method: str) -> Route | None:
        return infer_target(path) if method == "POST" else None

    async def handle(self, route: Route, request: RawRequest) -> Reply:
        check_infer_media(request.content_type)
        body = await read_body(request.receive, self.core.body_limit, request.content_length)
        header_length = request.header(_HEADER_LENGTH)
        media, payload, headers = await infer_answer(
            self.core,
            route.model or "",
            route.version,
            body,
            None if header_length is None else header_length.decode("latin-1"),
            request.headers,
        )
        return Reply(200, media, payload, headers)

    def error(self, exc: BaseException) -> Reply:
        return error_reply(exc, error_body)
