"""FastAPI dependencies shared by the routers, named so handlers stay a few lines.

The app factory attaches the service to its app once (``bind``); the functions
here are the only readers, so routes take ``State``, ``Core``, ``Served``,
``Watching`` or ``Authorized`` as parameters and never look at the app.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, FastAPI, Path, Request
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import BeforeValidator

from tabserve.monitoring.watch import Watch
from tabserve.service.http.auth import bearer, token_matches
from tabserve.service.http.errors import UnauthorizedError
from tabserve.service.http.same_site import check_same_site
from tabserve.service.predict.core import PredictCore
from tabserve.service.predict.state import ModelSlot, ServiceState
from tabserve.service.predict.version_numbers import MAX_VERSION


def bind(app: FastAPI, state: ServiceState, core: PredictCore) -> None:
    """Attach the service to its app; read back only through the functions below."""
    app.state.service = state
    app.state.predict_core = core


def service_state(app: FastAPI) -> ServiceState:
    """The state ``bind`` attached to this app."""
    return app.state.service


def predict_core(app: FastAPI) -> PredictCore:
    """The predict core ``bind`` attached to this app."""
    return app.state.predict_core


def note_grpc_port(app: FastAPI, port: int) -> None:
    """The port the gRPC server bound when the app started (``server.grpc_port: 0`` picks one)."""
    app.state.grpc_port = port


def grpc_port(app: FastAPI) -> int | None:
    """The bound gRPC port, once the app has started one."""
    return getattr(app.state, "grpc_port", None)


def get_state(request: Request) -> ServiceState:
    return service_state(request.app)


def get_core(request: Request) -> PredictCore:
    return predict_core(request.app)


State = Annotated[ServiceState, Depends(get_state)]
Core = Annotated[PredictCore, Depends(get_core)]


def get_watch(state: State) -> Watch:
    return state.watch


Watching = Annotated[Watch, Depends(get_watch)]


def require_token(
    request: Request,
    state: State,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> None:
    """401 unless the configured token (if any) was sent.

    Every mutating route depends on it, so the same-site rules run here too.
    """
    check_same_site(request.method, request.headers)
    expected = state.settings.server.token
    if not expected:
        return
    given = credentials.credentials if credentials and credentials.scheme.lower() == "bearer" else None
    if not token_matches(expected, given):
        raise UnauthorizedError("this route needs the header 'Authorization: Bearer <server.token>'")


Authorized = Depends(require_token)


def whole_number(value: object) -> object:
    """Digits only: pydantic would read '1.0' or ' 1' as version 1; the schema says integer."""
    if isinstance(value, str) and not (value.isascii() and value.isdigit()):
        raise ValueError("a version is a whole number such as 3")
    return value


VersionNumber = Annotated[
    int,
    Path(ge=1, le=MAX_VERSION, description="A model version number."),
    BeforeValidator(whole_number),
]
ModelName = Annotated[str, Path(min_length=1, max_length=100, description="A model this server serves.")]
JobId = Annotated[
    str, Path(min_length=1, max_length=32, pattern=r"^[0-9a-f]+$", description="A training job id.")
]


def get_slot(name: ModelName, state: State) -> ModelSlot:
    """The served model named in the path; 404 naming it (and what is served) otherwise."""
    return state.slot(name)


Served = Annotated[ModelSlot, Depends(get_slot)]
