"""The alias follower survives every error the registry can raise, and a dead task is loud."""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from pathlib import Path

import pytest

import tabserve.database  # its TransientConflict is one of the injected errors
import tabserve.registry
import tabserve.registry.metadata  # imported so that every error class it defines is found below
from tabserve.config import load_settings
from tabserve.errors import TabserveError
from tabserve.registry import ModelStore, open_registry
from tabserve.service.app import create_app
from tabserve.service.deps import service_state
from tabserve.service.ops.tasks import supervise
from tabserve.service.predict.reloader import Reloader
from tabserve.service.predict.state import STARTING, ServiceState, SlotStatus
from tests.support.polling import eventually
from tests.support.servers import register_copy, serve_in_thread


def _registry_errors() -> list[type[BaseException]]:
    """Every TabserveError class of the core, the registry and its database plumbing, plus what a bug
    or the OS raises."""
    found, todo = [], [TabserveError]
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        if cls.__module__ in ("tabserve.errors", "tabserve.database") or cls.__module__.startswith(
            "tabserve.registry"
        ):
            found.append(cls)
    return [*sorted(found, key=lambda c: c.__name__), RuntimeError, OSError]


ERRORS = _registry_errors()


class FaultyRegistry:
    """A real registry whose chosen method raises an injected error while ``fault`` is set."""

    def __init__(self, inner: ModelStore, method: str) -> None:
        self.inner = inner
        self.method = method
        self.fault: BaseException | None = None

    def __getattr__(self, name: str):
        attr = getattr(self.inner, name)
        if name != self.method or self.fault is None:
            return attr
        fault = self.fault

        def raising(*_args, **_kwargs):
            raise fault

        return raising


def test_the_injected_errors_include_the_registry_conflicts_and_outages():
    names = {cls.__name__ for cls in ERRORS}
    assert {
        "BackendUnavailableError",
        "ConflictError",
        "IntegrityError",
        "NoModelError",
        "NotFoundError",
    } <= names
    assert any(
        issubclass(cls, tabserve.errors.ConflictError) and cls.__module__ != "tabserve.errors"
        for cls in ERRORS
    )


@pytest.mark.parametrize("method", ["serving_version", "get", "read_file"])
@pytest.mark.parametrize("error", ERRORS, ids=lambda cls: cls.__name__)
def test_the_reloader_recovers_or_says_why_for_every_registry_error(iris_config: Path, method, error, caplog):
    settings = load_settings(iris_config, environ={})
    real = open_registry(settings)
    try:
        registry = FaultyRegistry(real, method)
        state = ServiceState.build(settings, registry)  # type: ignore[arg-type]
        reloader = Reloader(state)
        slot = state.default
        registry.fault = error("injected failure")

        asyncio.run(reloader.check_once())  # must not raise: the task would end
        assert slot.predictor is None
        reason = state.unready_reason()
        assert reason and "iris" in reason
        if (
            slot.status is SlotStatus.UNREACHABLE
        ):  # an outage: the reason anyone may read names no host; the log does
            assert "injected failure" not in reason
            if issubclass(error, TabserveError):
                assert "injected failure" in caplog.text
        elif issubclass(error, TabserveError):
            assert "injected failure" in reason

        registry.fault = None
        asyncio.run(reloader.check_once())
        if slot.predictor is None:  # that version cannot be loaded: it says so and waits for another
            assert "cannot load version 1" in state.unready_reason()
            assert register_copy(iris_config) == 2
            real.promote("iris", 2)
            asyncio.run(reloader.check_once())
        assert slot.predictor is not None
        assert state.unready_reason() is None
    finally:
        real.close()


def test_the_running_task_outlives_every_error_in_turn(iris_config: Path):
    settings = load_settings(iris_config, environ={})
    real = open_registry(settings)
    registry = FaultyRegistry(real, "serving_version")
    state = ServiceState.build(settings, registry)  # type: ignore[arg-type]

    async def scenario() -> None:
        state.bind_loop()
        task = asyncio.create_task(Reloader(state).run())
        for error in ERRORS:
            registry.fault = error("injected failure")
            state.model_changed()
            await _until(lambda: state.default.status is not SlotStatus.LOADING)
            assert state.default.status is not SlotStatus.SERVING
            assert not task.done(), f"the reloader ended on {error.__name__}"
            state.default.set_status(SlotStatus.LOADING, STARTING)
        registry.fault = None
        state.model_changed()
        await _until(lambda: state.default.predictor is not None)
        assert not task.done()
        task.cancel()

    try:
        asyncio.run(scenario())
    finally:
        real.close()


async def _until(condition, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


def test_a_dead_background_task_is_logged_counted_and_makes_readyz_503(iris_config: Path, caplog):
    app = create_app(load_settings(iris_config, environ={}))
    state = service_state(app)

    async def broken() -> None:
        raise RuntimeError("bug in the task")

    with serve_in_thread(app) as client:
        eventually(lambda: client.get("/readyz").status_code == 200, "the app ready")
        with caplog.at_level(logging.CRITICAL, logger="tabserve.service.ops.tasks"):
            asyncio.run_coroutine_threadsafe(supervise(state, "probe", broken), state.loop).result(30)
        ready = client.get("/readyz")
        metrics = client.get("/metrics").text
    assert ready.status_code == 503
    assert ready.headers["content-type"] == "application/problem+json"
    assert ready.json()["detail"] == "background task 'probe' died: RuntimeError: bug in the task"
    assert 'tabserve_background_task_failures_total{task="probe"} 1.0' in metrics
    assert "background task probe died" in caplog.text


def test_swaps_do_not_keep_the_replaced_models_garbage_frozen(iris_config: Path, real_heap_refreeze):
    """Each swap freezes the heap for the request path; what a replaced model leaves must not stay frozen."""
    settings = load_settings(iris_config, environ={})
    real = open_registry(settings)
    try:
        assert register_copy(iris_config) == 2
        state = ServiceState.build(settings, real)
        reloader = Reloader(state)
        frozen = []
        for swap in range(16):
            version = 1 + swap % 2
            real.promote("iris", version)
            asyncio.run(reloader.check_once())
            assert state.default.predictor.version == version
            frozen.append(gc.get_freeze_count())
        warm, last = frozen[3], frozen[-1]
        assert warm > 0, "a swap froze nothing"
        # A replaced model's cycles are about two hundred objects; caches that grow and are trimmed
        # (connection pools, compiled statements) account for a few dozen, whatever the swap count.
        assert last - warm < 600, f"frozen objects grew from {warm} to {last} over 12 swaps: {frozen}"
    finally:
        gc.unfreeze()
        real.close()
