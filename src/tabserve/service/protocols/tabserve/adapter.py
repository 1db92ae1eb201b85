"""tabserve's own predict routes as a dispatcher adapter: POST /predict and the model/version forms.

Only well-formed predict paths match (a version as ``parse_version`` takes
it); anything else goes to FastAPI, which answers it with the declared route.
Errors are problem+json, from the same table as every other route.
"""

from __future__ import annotations

from tabserve.service.http.errors import PROBLEM_JSON, problem_for
from tabserve.service.protocols.adapter import RawRequest, Reply, Route, model_and_version
from tabserve.service.protocols.tabserve.handler import PredictHandler

DEFAULT_PATHS = frozenset({"/predict", "/predict/"})
DEFAULT_ROUTE = Route("/predict")
MODEL_LABEL = "/models/{name}/predict"
VERSION_LABEL = "/models/{name}/versions/{version}/predict"
MODELS_PREFIX = "/models/"
PREDICT_SUFFIX = "/predict"


def predict_target(path: str) -> Route | None:
    """The route of a predict path this adapter answers, else None."""
    if path in DEFAULT_PATHS:
        return DEFAULT_ROUTE
    found = model_and_version(path, MODELS_PREFIX, PREDICT_SUFFIX)
    if found is None:
        return None
    model, version = found
    return Route(MODEL_LABEL if version is None else VERSION_LABEL, model, version)


class TabserveAdapter:
    """JSON or CSV rows in, tabserve's answer out, through ``PredictHandler``."""

    def __init__(self, handler: PredictHandler) -> None:
        self.handler = handler

    def match(self, path: str, method: str) -> Route | None:
        return predict_target(path) if method == "POST" else None

    async def handle(self, route: Route, request: RawRequest) -> Reply:
        handler = self.handler
        answer = await handler.handle(
            route.model,
            route.version,
            request.receive,
            request.content_type,
            request.content_length,
            request.query,
            request.headers,
        )
        return Reply(200, answer.media, answer.body, answer.headers)

    def error(self, exc: BaseException) -> Reply:
        status, headers, payload = problem_for(exc)
        return Reply(status, PROBLEM_JSON, payload, headers)
