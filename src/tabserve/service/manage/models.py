"""The served models and their versions: list, show, their pictures (moves: moves.py)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Response

from tabserve.service.deps import Served, State, VersionNumber
from tabserve.service.http.errors import problem_responses
from tabserve.service.manage.schemas import ModelList, ModelVersions, VersionDetail
from tabserve.service.ops import pictures

router = APIRouter(tags=["models"])


@router.get("/models", response_model=ModelList)
def list_models(state: State) -> dict:
    """The models this server serves, the default first, with the version each answers with now."""
    return {
        "default": state.default.name,
        "models": [
            {
                "name": slot.name,
                "serving_version": slot.predictor.version if slot.predictor else None,
                "url": f"/models/{slot.name}",
            }
            for slot in state.slots.values()
        ],
    }


@router.get("/models/{name}", response_model=ModelVersions, responses=problem_responses(404, 422, 503))
def list_versions(slot: Served, state: State) -> dict:
    """Every version of a served model, with its metrics and aliases."""
    records = state.registry.versions(slot.name)
    serving = slot.predictor
    return {
        "model": slot.name,
        "serving_version": serving.version if serving else None,
        "versions": [r.summary() for r in records],
    }


@router.get(
    "/models/{name}/versions/{version}",
    response_model=VersionDetail,
    responses=problem_responses(404, 422, 503),
)
def show_version(slot: Served, version: VersionNumber, state: State) -> dict:
    """One version in full: params, metrics, CV table, feature schema, data rows and hash."""
    return state.registry.get(slot.name, version).detail()


@router.get(
    "/models/{name}/versions/{version}/confusion_matrix.png",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}, **problem_responses(404, 409, 422, 503)},
)
async def confusion_matrix(slot: Served, version: VersionNumber, state: State) -> Response:
    """The version's hold-out confusion matrix as a PNG."""
    record = await asyncio.to_thread(state.registry.get, slot.name, version)
    png = await asyncio.to_thread(pictures.confusion_matrix, state.pictures, state.registry, record)
    return Response(
        png, media_type="image/png", headers={"cache-control": "public, max-age=86400, immutable"}
    )


@router.get(
    "/models/{name}/versions/{version}/pairplot.png",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}, **problem_responses(404, 409, 422, 503)},
)
async def pairplot(slot: Served, version: VersionNumber, state: State) -> Response:
    """The pairplot of the rows the version was trained on, as stored with it (404 if it has none)."""
    registry = state.registry
    record = await asyncio.to_thread(registry.get, slot.name, version)
    png = await asyncio.to_thread(pictures.stored_pairplot, state.pictures, registry, record)
    return Response(
        png, media_type="image/png", headers={"cache-control": "public, max-age=86400, immutable"}
    )


@router.get(
    "/models/{name}/versions/{version}/predicted_vs_actual.png",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}, **problem_responses(404, 422, 503)},
)
async def predicted_vs_actual(slot: Served, version: VersionNumber, state: State) -> Response:
    """A regression version's hold-out predictions against the true values (404 for a classifier)."""
    return await _regression_picture(slot.name, version, state, "predicted_vs_actual")


@router.get(
    "/models/{name}/versions/{version}/residual_distribution.png",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}, **problem_responses(404, 422, 503)},
)
async def residual_distribution(slot: Served, version: VersionNumber, state: State) -> Response:
    """A regression version's hold-out residual histogram (404 for a classifier)."""
    return await _regression_picture(slot.name, version, state, "residual_distribution")


async def _regression_picture(model: str, version: int, state: State, kind: str) -> Response:
    registry = state.registry
    record = await asyncio.to_thread(registry.get, model, version)
    png = await asyncio.to_thread(pictures.regression_picture, state.pictures, registry, record, kind)
    return Response(
        png, media_type="image/png", headers={"cache-control": "public, max-age=86400, immutable"}
    )
