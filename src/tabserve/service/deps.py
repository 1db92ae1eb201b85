"""FastAPI dependencies shared by the routers, named so handlers stay a few lines."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request
from pydantic import BeforeValidator

from tabserve.service.predict.state import ModelSlot, ServiceState
from tabserve.service.predict.version_numbers import MAX_VERSION


def get_state(request: Request) -> ServiceState:
    return request.app.state.service


State = Annotated[ServiceState, Depends(get_state)]


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
