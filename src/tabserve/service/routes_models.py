"""GET /models, GET /models/{version}, promote, rollback, and a version's confusion matrix."""

from __future__ import annotations

from fastapi import APIRouter, Response

from tabserve.registry import PRODUCTION
from tabserve.service import pictures
from tabserve.service.auth import Authorized
from tabserve.service.deps import State, VersionNumber
from tabserve.service.errors import problem_responses
from tabserve.service.schemas import AliasMove, ModelList, VersionDetail

router = APIRouter(tags=["models"])


@router.get("/models", response_model=ModelList, responses=problem_responses(503))
def list_versions(state: State) -> dict:
    """Every version of the served model, with its metrics and aliases."""
    records = state.require_registry().versions(state.settings.model)
    serving = state.predictor
    return {
        "model": state.settings.model,
        "serving_version": serving.version if serving else None,
        "versions": [r.summary() for r in records],
    }


@router.get("/models/{version}", response_model=VersionDetail, responses=problem_responses(404, 422, 503))
def show_version(version: VersionNumber, state: State) -> dict:
    """One version in full: params, metrics, CV table, feature schema, data rows and hash."""
    record = state.require_registry().get(state.settings.model, version)
    return record.detail()


@router.post(
    "/models/{version}/promote",
    response_model=AliasMove,
    dependencies=[Authorized],
    responses=problem_responses(401, 404, 422, 503),
)
def promote(version: VersionNumber, state: State) -> dict:
    """Point the production alias at this version; servers switch to it within a reload interval."""
    state.require_registry().promote(state.settings.model, version)
    state.model_changed()
    return {"model": state.settings.model, "alias": PRODUCTION, "version": version}


@router.post(
    "/models/rollback",
    response_model=AliasMove,
    dependencies=[Authorized],
    responses=problem_responses(401, 404, 503),
)
def rollback(state: State) -> dict:
    """Move the production alias back to the version it pointed at before the last promotion."""
    version = state.require_registry().rollback(state.settings.model)
    state.model_changed()
    return {"model": state.settings.model, "alias": PRODUCTION, "version": version}


@router.get(
    "/models/{version}/confusion_matrix.png",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}, **problem_responses(404, 422, 503)},
)
def confusion_matrix(version: VersionNumber, state: State) -> Response:
    """The version's hold-out confusion matrix as a PNG."""
    record = state.require_registry().get(state.settings.model, version)
    png = pictures.confusion_matrix(state.pictures, record)
    return Response(
        png, media_type="image/png", headers={"cache-control": "public, max-age=86400, immutable"}
    )
