"""The service state is built once and whole, and routes reach it only through the dependencies."""

from __future__ import annotations

import ast
import asyncio
import dataclasses
import logging
from pathlib import Path

import httpx

from tabserve.config import load_settings
from tabserve.errors import BackendUnavailableError
from tabserve.registry import ModelStore, open_registry
from tabserve.service.app import create_app
from tabserve.service.deps import service_state
from tabserve.service.predict.reloader import Reloader
from tabserve.service.predict.state import ServiceState, SlotStatus

SERVICE = Path(__file__).resolve().parents[3] / "src" / "tabserve" / "service"
READER = SERVICE / "deps.py"  # the one module that reads the service off the app


def _app_state_reads(path: Path) -> list[int]:
    """Lines of ``path`` that touch ``<something>.app.state`` or ``app.state``."""
    lines = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Attribute) and node.attr == "state":
            owner = node.value
            if (isinstance(owner, ast.Name) and owner.id == "app") or (
                isinstance(owner, ast.Attribute) and owner.attr == "app"
            ):
                lines.append(node.lineno)
    return lines


def test_the_check_finds_an_app_state_read(tmp_path: Path):
    sample = tmp_path / "route.py"
    sample.write_text(
        "def f(request):\n    return request.app.state.service\n\ndef g(app):\n    app.state.x = 1\n"
    )
    assert _app_state_reads(sample) == [2, 5]


def test_no_route_or_page_reads_the_app_state_directly():
    found = {
        str(path.relative_to(SERVICE)): lines
        for path in sorted(SERVICE.rglob("*.py"))
        if path != READER and (lines := _app_state_reads(path))
    }
    assert not found, f"take State / Core / Watching from tabserve.service.deps instead: {found}"


def test_the_state_has_no_part_that_is_only_set_later():
    optional = [
        f.name
        for f in dataclasses.fields(ServiceState)
        if not f.name.startswith("_") and "None" in str(f.type)
    ]
    assert optional == []


def test_routes_answer_from_the_state_create_app_built(iris_config: Path):
    """No "starting" gap: the registry, the jobs and the watch exist as soon as the app does."""
    app = create_app(load_settings(iris_config, environ={}))
    state = service_state(app)

    async def ask() -> tuple[httpx.Response, httpx.Response, httpx.Response]:
        transport = httpx.ASGITransport(app=app)  # no lifespan: nothing has been started
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            return await client.get("/jobs"), await client.get("/models/iris"), await client.get("/readyz")

    try:
        jobs, versions, ready = asyncio.run(ask())
    finally:
        state.registry.close()
    assert jobs.status_code == 200 and jobs.json() == {"jobs": []}
    assert versions.status_code == 200 and [v["version"] for v in versions.json()["versions"]] == [1]
    assert ready.status_code == 503 and "starting" in ready.json()["detail"]  # nothing loaded yet


class _Down:
    """A registry that does not answer while ``down`` is set."""

    def __init__(self, inner: ModelStore) -> None:
        self.inner = inner
        self.down = True

    def __getattr__(self, name: str):
        if self.down and name == "serving_version":
            raise BackendUnavailableError("registry database sqlite:///x unavailable: injected")
        return getattr(self.inner, name)


def test_the_slot_status_follows_the_registry_and_says_a_recovery_once(iris_config: Path, caplog):
    settings = load_settings(iris_config, environ={})
    real = open_registry(settings)
    registry = _Down(real)
    try:
        state = ServiceState.build(settings, registry)  # type: ignore[arg-type]
        reloader = Reloader(state)
        slot = state.default
        assert slot.status is SlotStatus.LOADING
        with caplog.at_level(logging.INFO, logger="tabserve.service.predict.reloader"):
            assert asyncio.run(reloader.check_once()) is False
            # Anyone may read the slot's reason: it says what is down; the log says why.
            assert slot.status is SlotStatus.UNREACHABLE
            assert slot.reason == "the registry database is unreachable"
            assert "injected" in caplog.text
            asyncio.run(reloader.check_once())  # still down: said once, not every poll
            registry.down = False
            assert asyncio.run(reloader.check_once()) is True
        assert slot.status is SlotStatus.SERVING and slot.reason == ""
        assert slot.predictor is not None and slot.predictor.version == 1
        assert caplog.text.count("no version served yet") == 1
        assert caplog.text.count("answers again") == 1
        assert state.unready_reason() is None
    finally:
        real.close()
