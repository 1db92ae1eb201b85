"""The console's HTML pages: home, version, compare, train, predict.

The model page lives in ``model_page``, the jobs pages in ``job_pages``, the data page in ``data_page``
and the drift page in ``drift``.

Each handler reads the registry (in FastAPI's thread pool: the handlers are
plain functions), turns records into view values with ``views`` and renders a
template. A domain error becomes an HTML page with the same status and message
the JSON routes would give.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse

from tabserve.config import Settings
from tabserve.errors import TabserveError
from tabserve.model_configs import training_settings
from tabserve.registry import PRODUCTION
from tabserve.service.console import charts, views
from tabserve.service.console.render import page
from tabserve.service.deps import ModelName, State, VersionNumber
from tabserve.service.http.errors import lookup, public_detail
from tabserve.service.predict.state import ServiceState, SlotStatus
from tabserve.service.predict.version_numbers import MAX_VERSION

log = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)
SCORERS = ("accuracy", "balanced_accuracy", "f1_macro", "f1_weighted", "precision_macro", "recall_macro")
OptionalVersion = Annotated[int | None, Query(ge=1, le=MAX_VERSION)]
OptionalModel = Annotated[str | None, Query(min_length=1, max_length=100)]


def token_set(state: ServiceState) -> bool:
    """Whether this server wants a bearer token (for mutating routes and job details)."""
    return bool(state.settings.server.token)


def guarded(handler: Callable[..., HTMLResponse]) -> Callable[..., HTMLResponse]:
    """Answer a domain error (unknown model, registry down, ...) as an HTML page with its status."""

    @functools.wraps(handler)
    def wrapper(*args: Any, **kwargs: Any) -> HTMLResponse:
        try:
            return handler(*args, **kwargs)
        except TabserveError as exc:
            problem = lookup(exc)
            state = kwargs.get("state")
            return page(
                "error.html",
                active="",
                title=problem.title,
                status=problem.status,
                auth=bool(state and token_set(state)),
                detail=public_detail(exc)[:500],
            )

    return wrapper


def _model_or_default(state: ServiceState, model: str | None) -> str:
    return state.slot(model).name if model else state.default.name


@router.get("/", response_class=HTMLResponse)
@guarded
def home(state: State) -> HTMLResponse:
    """Every served model: production version, estimator, key metrics, age, rows, a running job.

    With a token set a running job shows only its id, as on its own page: the script reads its
    status and progress from GET /jobs/{id} with the tab's token.
    """
    registry = state.registry
    metadata = registry.metadata
    models = []
    for slot in state.slots.values():
        entry: dict[str, Any] = {
            "name": slot.name,
            "serving": slot.predictor.version if slot.predictor else None,
            "note": "" if slot.status is SlotStatus.SERVING else slot.reason,  # why not the alias's version
            "error": None,
        }
        try:
            current = metadata.alias_version(slot.name, PRODUCTION)
            entry["production"] = (
                views.version_row(views.summary_of(registry.get(slot.name, current))) if current else None
            )
            entry["count"] = metadata.latest_version(slot.name) or 0
            job_id = metadata.training_lock(slot.name)
            entry["job"] = metadata.get_job(job_id) if job_id else None
        except TabserveError as exc:
            entry.update(error=str(exc)[:300], production=None, job=None)
        models.append(entry)
    return page(
        "home.html",
        active="models",
        title="Models",
        auth=token_set(state),
        locked=token_set(state),
        models=models,
        default=state.default.name,
    )


@router.get("/ui/models/{name}/versions/{version}", response_class=HTMLResponse)
@guarded
def version_page(name: ModelName, version: VersionNumber, state: State) -> HTMLResponse:
    """One version in full, readable, with a promote button."""
    slot = state.slot(name)
    record = state.registry.get(slot.name, version)
    matrix = record.metrics.get("confusion_matrix") or {}
    return page(
        "version.html",
        promote_warning=_promote_warning(state, record),
        active="models",
        title=f"{record.model} version {record.version}",
        auth=token_set(state),
        record=record,
        serving=views.serving_path(record),
        cv=views.cv_table(record.cv_results),
        matrix=charts.confusion_matrix(
            matrix.get("labels", []), matrix.get("matrix", []), f"Confusion matrix of version {version}"
        ),
    )


def _promote_warning(state: ServiceState, record: Any) -> str | None:
    """What to confirm before promoting a version whose hold-out score is below production's."""
    registry = state.registry
    production = registry.metadata.alias_version(record.model, PRODUCTION)
    if production is None or production == record.version:
        return None
    current = registry.get(record.model, production).metrics.get("holdout_score")
    candidate = record.metrics.get("holdout_score")
    if current is None or candidate is None or candidate >= current:
        return None
    return (
        f"Version {record.version}'s hold-out score ({candidate:.4g}) is below production's "
        f"(version {production}: {current:.4g}). Promote it anyway?"
    )


@router.get("/ui/models/{name}/compare", response_class=HTMLResponse)
@guarded
def compare_page(
    name: ModelName,
    state: State,
    a: Annotated[int, Query(ge=1, le=MAX_VERSION)],
    b: Annotated[int, Query(ge=1, le=MAX_VERSION)],
) -> HTMLResponse:
    """Two versions side by side: metric differences, params diff, confusion matrices, CV tables."""
    slot = state.slot(name)
    registry = state.registry
    first, second = registry.get(slot.name, a), registry.get(slot.name, b)

    def matrix(record: Any) -> Any:
        found = record.metrics.get("confusion_matrix") or {}
        return charts.confusion_matrix(
            found.get("labels", []), found.get("matrix", []), f"Confusion matrix of version {record.version}"
        )

    return page(
        "compare.html",
        active="models",
        title=f"{slot.name}: version {a} and version {b}",
        auth=token_set(state),
        model=slot.name,
        a=first,
        b=second,
        cmp=views.compare(first, second),
        matrix_a=matrix(first),
        matrix_b=matrix(second),
        cv_a=views.cv_table(first.cv_results),
        cv_b=views.cv_table(second.cv_results),
    )


@router.get("/ui/train", response_class=HTMLResponse)
@guarded
def train_page(state: State, model: OptionalModel = None) -> HTMLResponse:
    """The training form; the script posts it and follows the job.

    An install without the `train` extra (the serve image) gets the reason and what to do
    instead of a form whose every submission would be refused with a 501.
    """
    from tabserve.extras import HOW_TO_TRAIN, TRAIN_MODULES, missing

    chosen = _model_or_default(state, model)
    trainable = [name for name in state.slots if _training(state, name) is not None]
    if chosen not in trainable and trainable:
        chosen = trainable[0]
    training = _training(state, chosen) or state.settings
    split = training.split
    defaults = {
        "cv": training.search.cv,
        "scoring": training.search.scoring,
        "split": f"{split.test_per_class} per class"
        if split.test_per_class is not None
        else f"fraction {split.test_fraction}",
    }
    return page(
        "train.html",
        active="train",
        title="Train",
        auth=token_set(state),
        models=trainable,
        untrainable=[name for name in state.slots if name not in trainable],
        model=chosen,
        defaults=defaults,
        scorers=SCORERS,
        cannot_train=", ".join(missing(TRAIN_MODULES)),
        how_to_train=HOW_TO_TRAIN,
    )


def _training(state: ServiceState, model: str) -> Settings | None:
    """The settings that train ``model`` here; None when it has none (or its file cannot be read)."""
    try:
        return training_settings(state.settings, model)
    except TabserveError:
        return None


def _version_choice(state: ServiceState, model: str, version: int | None) -> tuple[list[dict], Any]:
    """The model's versions (newest first) and the chosen record (default: production, else newest)."""
    registry = state.registry
    summaries = registry.metadata.version_summaries(model)
    listing = [
        {"version": v["version"], "production": PRODUCTION in v["aliases"]} for v in reversed(summaries)
    ]
    if not summaries:
        return listing, None
    if version is None:
        found = next((v for v in listing if v["production"]), listing[0])
        version = found["version"]
    return listing, registry.get(model, version)


@router.get("/ui/predict", response_class=HTMLResponse)
@guarded
def predict_page(state: State, model: OptionalModel = None, version: OptionalVersion = None) -> HTMLResponse:
    """A form generated from the version's feature schema, and a CSV upload; any version."""
    chosen = _model_or_default(state, model)
    listing, record = _version_choice(state, chosen, version)
    features = record.feature_schema.get("features", []) if record else []
    return page(
        "predict.html",
        active="predict",
        title="Predict",
        auth=token_set(state),
        models=list(state.slots),
        model=chosen,
        versions=listing,
        version=record.version if record else None,
        features=features,
        intervals=bool(record and "residuals" in record.artifacts),
        max_rows=state.settings.server.max_batch_rows,
        empty_reason=f"Model {chosen} has no version yet: train one first.",
    )
