"""The app factory: FastAPI routes behind the raw ASGI dispatcher, errors as problem+json.

``create_app(settings)`` builds the whole service state once (``ServiceState.build``;
no connection is made: the registry's engine connects on first use). The
lifespan runs it: it starts the background tasks (the alias follower, the
training-job check and the watch's channels), each supervised so that its death
is loud, and at shutdown stops them, reaps job processes and closes the registry.
Routes receive the state and the predict core through the dependencies in
``service.deps``; only those read them off the app.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.routing import Match, Mount

from tabserve import __version__
from tabserve.config import Settings
from tabserve.errors import ConfigError, TabserveError
from tabserve.registry import open_registry
from tabserve.service import console
from tabserve.service.deps import bind, note_grpc_port, predict_core, service_state
from tabserve.service.http.dispatch import Dispatcher
from tabserve.service.http.errors import PROBLEM_JSON, problem_body, problem_for, problem_responses
from tabserve.service.http.one_write import HOLD_HEAD
from tabserve.service.http.same_site import HostCheck
from tabserve.service.manage import canary as routes_canary
from tabserve.service.manage import jobs as routes_jobs
from tabserve.service.manage import models as routes_models
from tabserve.service.manage import moves as routes_moves
from tabserve.service.ops import feedback as routes_feedback
from tabserve.service.ops import health as routes_ops
from tabserve.service.ops import tasks as background
from tabserve.service.ops import visualise as routes_visualise
from tabserve.service.ops import watch as routes_watch
from tabserve.service.ops.canary_metrics import CanaryCollector
from tabserve.service.predict.canary_follow import judge_forever
from tabserve.service.predict.core import PredictCore
from tabserve.service.predict.metrics import RequestMetrics
from tabserve.service.predict.reloader import Reloader
from tabserve.service.predict.state import ServiceState
from tabserve.service.protocols.kserve_v1 import routes as routes_kserve_v1
from tabserve.service.protocols.mlflow import routes as routes_mlflow
from tabserve.service.protocols.mlflow.adapter import MlflowAdapter
from tabserve.service.protocols.oip import routes as routes_oip
from tabserve.service.protocols.oip.adapter import OipAdapter
from tabserve.service.protocols.tabserve.adapter import TabserveAdapter
from tabserve.service.protocols.tabserve.handler import PredictHandler
from tabserve.service.protocols.tabserve.routes import declare_predict_routes

log = logging.getLogger(__name__)

HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
WRITE_METHODS = frozenset({"post", "put", "patch", "delete"})

DESCRIPTION = (
    "Predict with the registry's production model, train new versions, promote and roll back, "
    "and look at the data. Mutating routes need `Authorization: Bearer <server.token>` when a token is set."
)


@contextlib.asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    state = service_state(app)
    state.bind_loop()
    tasks = background.start(
        state,
        {
            "reloader": Reloader(state).run,
            "job-check": state.jobs.watch,
            "canary-judge": lambda: judge_forever(state),
            **state.watch.tasks(),
        },
    )
    grpc_server = None
    try:
        grpc_server = await _start_grpc(app)
        yield
    finally:
        if grpc_server is not None:
            await grpc_server.stop()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        state.jobs.reap()
        state.registry.close()
        state.metrics.close()
        batcher = predict_core(app).batcher
        if batcher is not None and batcher.calls:  # how much joining the load gave (benchmarks read it)
            log.info("micro-batching: %d model calls scored %d single rows", batcher.calls, batcher.rows)


async def _start_grpc(app: FastAPI) -> Any:
    """The OIP gRPC server when ``server.grpc_port`` is set (its bound port: ``deps.grpc_port``)."""
    if service_state(app).settings.server.grpc_port is None:
        return None
    try:
        from tabserve.service.protocols.grpc import server as grpc_server  # grpcio only when asked for
    except ImportError:
        raise ConfigError(
            "server.grpc_port is set but this install has no gRPC: pip install 'tabserve[grpc]'"
        ) from None
    started = await grpc_server.start(predict_core(app))
    note_grpc_port(app, started.port)
    return started


def _problem_response(exc: BaseException) -> Response:
    status, headers, body = problem_for(exc)
    return Response(
        body,
        status_code=status,
        headers={k.decode(): v.decode() for k, v in headers},
        media_type=PROBLEM_JSON.decode(),
    )


async def _domain_error(_request: Request, exc: Exception) -> Response:
    return _problem_response(exc)


async def _validation_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    parts = []
    for error in exc.errors()[:5]:
        where = ".".join(str(p) for p in error.get("loc", ()))
        parts.append(f"{where}: {error.get('msg', 'invalid')}")  # never the input itself
    body = problem_body(422, "Invalid request", "; ".join(parts) or "invalid request", "invalid-request")
    return Response(body, status_code=422, media_type=PROBLEM_JSON.decode())


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    body = problem_body(exc.status_code, str(exc.detail), str(exc.detail), f"http-{exc.status_code}")
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = _allowed_methods(request)
    return Response(body, status_code=exc.status_code, headers=headers, media_type=PROBLEM_JSON.decode())


def _allowed_methods(request: Request) -> str:
    """Every method some route takes at this path (Starlette names only the first route that matched)."""
    routes = [route for route in request.app.router.routes if not isinstance(route, Mount)]
    allowed = [
        method
        for method in HTTP_METHODS
        if any(route.matches({**request.scope, "method": method})[0] == Match.FULL for route in routes)
    ]
    return ", ".join(allowed)


def _openapi_for(app: FastAPI, token_set: bool, windows: Sequence[str]) -> Callable[[], dict[str, Any]]:
    """The schema, without the bearer scheme when no token is set (the routes then take none), and
    with the performance route's ``window`` limited to the configured window names."""
    build = app.openapi
    adjusted: list[dict[str, Any]] = []  # the schema FastAPI cached, once adjusted

    def openapi() -> dict[str, Any]:
        schema = build()
        if adjusted and adjusted[0] is schema:
            return schema
        adjusted[:] = [schema]
        for operations in schema.get("paths", {}).values():
            for method, operation in operations.items():
                if method in WRITE_METHODS:  # the same-site rules may refuse any write
                    operation.setdefault("responses", {}).update(
                        {str(k): v for k, v in problem_responses(403, 415).items()}
                    )
                if not token_set:
                    operation.pop("security", None)
                    operation.get("responses", {}).pop("401", None)
        if not token_set:
            schema.get("components", {}).pop("securitySchemes", None)
        performance = schema.get("paths", {}).get("/models/{name}/performance", {}).get("get", {})
        for parameter in performance.get("parameters", []):
            if parameter.get("name") == "window":
                parameter["schema"] = {"type": "string", "enum": list(windows)}
        return schema

    return openapi


def create_app(settings: Settings) -> FastAPI:
    """Build the service for these settings (one app per server process)."""
    state = ServiceState.build(settings, open_registry(settings))
    state.metrics.add_collector(CanaryCollector(state))
    core = PredictCore(state)
    app = FastAPI(
        title="tabserve",
        version=__version__,
        description=DESCRIPTION,
        lifespan=_lifespan,
        openapi_url="/openapi.json",
        docs_url=None,  # /docs and /redoc come from the console, with assets served here
        redoc_url=None,
    )
    bind(app, state, core)
    declare_predict_routes(app, PredictHandler(core))
    for router in (
        routes_models.router,
        routes_moves.router,
        routes_canary.router,
        routes_jobs.router,
        routes_visualise.router,
        routes_ops.router,
        routes_watch.router,
        routes_feedback.router,
        routes_oip.router,
        routes_kserve_v1.router,
        routes_mlflow.router,
    ):
        app.include_router(router)
    console.mount(app)
    app.add_exception_handler(TabserveError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _domain_error)  # logged, and answered as a problem
    app.add_middleware(RequestMetrics, metrics=state.metrics)
    app.openapi = _openapi_for(
        app, bool(settings.server.token), list(settings.monitoring.performance_windows)
    )  # type: ignore[method-assign]
    return app


def with_fast_predict(app: FastAPI) -> HostCheck:
    """The ASGI app to serve: every protocol's hot path answered before FastAPI's middleware stack.

    The dispatcher wraps the FastAPI instance (rather than being a middleware,
    which FastAPI nests inside its error and body-limit layers), so a predict
    request is one table look-up and one adapter call; everything else,
    lifespan included, passes through to FastAPI. The Host check wraps it all.
    """
    core = predict_core(app)
    adapters = (TabserveAdapter(PredictHandler(core)), OipAdapter(core), MlflowAdapter(core))
    dispatcher = Dispatcher(app, adapters, core.state.metrics.observe_request, HOLD_HEAD)
    return HostCheck(dispatcher, core.state.settings.server)
