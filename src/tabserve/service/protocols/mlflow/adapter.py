"""MLflow's ``POST /invocations`` as a dispatcher adapter, for the default model.

Errors are MLflow's ``{"error_code", "message"}``. The declared route calls
``invocations_answer`` too, so both answer and fail alike.
"""

from __future__ import annotations

from tabserve.service.http.bodies import check_media, decode_json, media_type, read_body
from tabserve.service.predict.core import PredictCore
from tabserve.service.protocols.adapter import RawRequest, Reply, Route
from tabserve.service.protocols.errors import JSON_CT, error_reply
from tabserve.service.protocols.mlflow import codec as mlflow

INVOCATIONS = "/invocations"
_ROUTE = Route(INVOCATIONS)


async def invocations_answer(core: PredictCore, body: bytes, content_type: bytes | str | None) -> bytes:
    """The JSON answer to an /invocations body; errors propagate."""
    is_csv = check_media(media_type(content_type), csv=True)
    predictor = core.production()
    if is_csv:
        from tabserve.service.protocols.tabserve.csv_codec import read_csv_payload

        batch = core.rows(predictor, read_csv_payload(body, predictor.schema))
        probabilities = False
    else:
        batch, probabilities = mlflow.decode_json(core, predictor, decode_json(body))
    result = core.predict(predictor, batch, protocol="mlflow", labels_only=not probabilities)
    return mlflow.encode_response(result, probabilities)


class MlflowAdapter:
    """/invocations on the predict core."""

    def __init__(self, core: PredictCore) -> None:
        self.core = core

    def match(self, path: str, method: str) -> Route | None:
        return _ROUTE if path == INVOCATIONS and method == "POST" else None

    async def handle(self, route: Route, request: RawRequest) -> Reply:
        body = await read_body(request.receive, self.core.body_limit, request.content_length)
        return Reply(200, JSON_CT, await invocations_answer(self.core, body, request.content_type))

    def error(self, exc: BaseException) -> Reply:
        return error_reply(exc, mlflow.error_body)
