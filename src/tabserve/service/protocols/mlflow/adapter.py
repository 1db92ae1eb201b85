"""MLflow's ``POST /invocations`` as a dispatcher adapter, for the default model.

Errors are MLflow's ``{"error_code", "message"}``. Columns (record keys) the
model does not take are ignored and named in the answer's headers. The declared
route calls ``invocations_answer`` too, so both answer and fail alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tabserve.inputs import Batch
from tabserve.predictor import Predictor
from tabserve.service.http.bodies import check_media, decode_json, media_type, read_body
from tabserve.service.predict.core import PredictCore, ignored_headers, request_id_header, version_header
from tabserve.service.protocols.adapter import Headers, RawRequest, Reply, Route
from tabserve.service.protocols.errors import JSON_CT, error_reply
from tabserve.service.protocols.mlflow import codec as mlflow

INVOCATIONS = "/invocations"
_ROUTE = Route(INVOCATIONS)


def _decode(core: PredictCore, predictor: Predictor, body: bytes, is_csv: bool) -> tuple[Batch, bool]:
    if is_csv:
        from tabserve.service.protocols.tabserve.csv_codec import read_csv_payload

        return core.rows(predictor, read_csv_payload(body, predictor.schema)), False
    payload: Any = decode_json(body)
    return mlflow.decode_json(core, predictor, payload)


async def invocations_answer(
    core: PredictCore,
    body: bytes,
    content_type: bytes | str | None,
    headers: Sequence[tuple[bytes, bytes]] = (),
) -> tuple[bytes, Headers]:
    """The JSON answer to an /invocations body and its headers (``X-Tabserve-Version`` says which
    version answered: MLflow's body has no place for it); errors propagate. ``headers``: the
    request's, for a canary's routing key."""
    is_csv = check_media(media_type(content_type), csv=True)
    predictor = core.production(None, headers)
    batch, probabilities = await core.off_loop(len(body), _decode, core, predictor, body, is_csv)
    result = core.predict(predictor, batch, protocol="mlflow", labels_only=not probabilities)
    headers = [request_id_header(result.request_id), version_header(result), *ignored_headers(result.ignored)]
    return mlflow.encode_response(result, probabilities), headers


class MlflowAdapter:
    """/invocations on the predict core."""

    def __init__(self, core: PredictCore) -> None:
        self.core = core

    def match(self, path: str, method: str) -> Route | None:
        return _ROUTE if path == INVOCATIONS and method == "POST" else None

    async def handle(self, route: Route, request: RawRequest) -> Reply:
        body = await read_body(request.receive, self.core.body_limit, request.content_length)
        answer, headers = await invocations_answer(self.core, body, request.content_type, request.headers)
        return Reply(200, JSON_CT, answer, headers)

    def error(self, exc: BaseException) -> Reply:
        return error_reply(exc, mlflow.error_body)
