"""GET /visualise (an HTML page) and GET /visualise/pairplot.png (cached by data hash)."""

from __future__ import annotations

import functools

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, StrictUndefined, Template, select_autoescape

from tabserve.service.deps import State
from tabserve.service.http.errors import problem_responses
from tabserve.service.ops import pictures

router = APIRouter(tags=["visualise"])


@functools.cache
def _template() -> Template:
    """Compiled once per process. Jinja2 like the console's pages, autoescaped: the model name,
    estimator, parameters and class labels are user data."""
    env = Environment(
        loader=PackageLoader("tabserve.service.ops", "templates"),
        autoescape=select_autoescape(default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env.get_template("visualise.html")


@router.get(
    "/visualise/pairplot.png",
    response_class=Response,
    responses={
        200: {"content": {"image/png": {}}},
        304: {"description": "Not modified"},
        **problem_responses(404, 409, 503),
    },
)
def pairplot(request: Request, state: State) -> Response:
    """The pairplot of the served version's training data, coloured by class, as stored with it."""
    predictor = state.default.predictor
    record = predictor.record if predictor is not None else None
    registry = state.registry if record is not None else None
    png, digest = pictures.pairplot(state.pictures, state.settings, record, registry)
    etag = f'"{digest[:32]}"'
    headers = {"etag": etag, "cache-control": "no-cache"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(png, media_type="image/png", headers=headers)


def _scores(metrics: dict) -> list[tuple[str, float]]:
    """The headline scores a version recorded, in a fixed order."""
    names = ("accuracy", "f1_macro", "cv_score", "holdout_score")
    return [(name, metrics[name]) for name in names if isinstance(metrics.get(name), int | float)]


def _per_class(metrics: dict) -> list[tuple[str, float, float]]:
    """(label, precision, recall) of each class."""
    return [
        (str(label), scores.get("precision", 0), scores.get("recall", 0))
        for label, scores in (metrics.get("per_class") or {}).items()
    ]


@router.get("/visualise", response_class=HTMLResponse)
def visualise(state: State) -> HTMLResponse:
    """A page with the data's pairplot and the production model's metrics and confusion matrix."""
    slot = state.default
    predictor = slot.predictor
    record = predictor.record if predictor is not None else None
    metrics = record.metrics if record is not None else {}
    page = _template().render(
        model=slot.name,
        record=record,
        not_ready_reason=slot.reason if record is None else "",
        scores=_scores(metrics),
        per_class=_per_class(metrics),
    )
    return HTMLResponse(page)
