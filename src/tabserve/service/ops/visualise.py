"""GET /visualise (an HTML page) and GET /visualise/pairplot.png (cached by data hash)."""

from __future__ import annotations

import functools
import html
from importlib import resources
from string import Template

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from tabserve.service.deps import State
from tabserve.service.http.errors import problem_responses
from tabserve.service.ops import pictures

router = APIRouter(tags=["visualise"])


@functools.cache
def _template() -> Template:
    """Read once per process: the page is asked for far more often than the package changes."""
    return Template(
        resources.files("tabserve.service.ops").joinpath("templates/visualise.html").read_text("utf-8")
    )


@router.get(
    "/visualise/pairplot.png",
    response_class=Response,
    responses={
        200: {"content": {"image/png": {}}},
        304: {"description": "Not modified"},
        **problem_responses(404, 503),
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


def _metrics_rows(metrics: dict) -> str:
    rows = []
    for name in ("accuracy", "f1_macro", "cv_score", "holdout_score"):
        if isinstance(metrics.get(name), int | float):
            rows.append(f"<tr><th>{name}</th><td>{metrics[name]:.4f}</td></tr>")
    for label, scores in (metrics.get("per_class") or {}).items():
        rows.append(
            f"<tr><th>{html.escape(str(label))}</th><td>precision {scores.get('precision', 0):.3f}, "
            f"recall {scores.get('recall', 0):.3f}</td></tr>"
        )
    return "\n".join(rows)


@router.get("/visualise", response_class=HTMLResponse)
def visualise(state: State) -> HTMLResponse:
    """A page with the data's pairplot and the production model's metrics and confusion matrix."""
    slot = state.default
    predictor = slot.predictor
    model = html.escape(slot.name)
    if predictor is None:
        model_part = (
            f"<p>No model is served yet: train one with <code>tabserve train</code> or "
            f"<code>POST /train</code>. ({html.escape(slot.reason)})</p>"
        )
    else:
        record = predictor.record
        model_part = (
            f"<p>Serving version {record.version}: <code>{html.escape(record.estimator)}</code> "
            f"{html.escape(str(record.params))}, trained on {record.data_rows} rows.</p>"
            f"<table>{_metrics_rows(record.metrics)}</table>"
            f'<img src="/models/{model}/versions/{record.version}/confusion_matrix.png" '
            'alt="confusion matrix">'
        )
    page = _template().substitute(model=model, model_part=model_part)
    return HTMLResponse(page)
