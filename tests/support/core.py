"""The predict core alone, on a copy of a trained registry: no app, no lifespan, no reloader."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from tabserve.config import load_settings
from tabserve.predictor import Predictor
from tabserve.registry import open_registry
from tabserve.service.predict.core import PredictCore
from tabserve.service.predict.state import ServiceState


@contextlib.contextmanager
def loaded_core(config: Path, **server: object) -> Iterator[PredictCore]:
    """A ``PredictCore`` whose default slot holds version 1 of the config's model, loaded by hand
    (what the reloader would do); ``server`` overrides server settings such as ``max_batch_rows``."""
    settings = load_settings(config, environ={}, overrides={"server": server})
    state = ServiceState.build(settings, open_registry(settings))
    state.default.predictor = Predictor.load(state.registry, settings.model, 1)
    try:
        yield PredictCore(state)
    finally:
        state.registry.close()
