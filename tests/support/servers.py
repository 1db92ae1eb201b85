"""Servers for the tests: `tabserve serve` as a process on a free loopback port, the same app in
this process (no socket) and a copy of a trained registry for each.

Each server gets its own copy of a registry trained once per session, so a test may train,
promote or roll back without touching another's state. Only processes started here are stopped,
by their PID.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import TypeVar

import httpx
import uvicorn
import yaml

from tabserve.config import Settings, load_settings
from tabserve.registry import StoredFile, open_registry
from tabserve.registry.records import DESCRIBING_FIELDS
from tests.support.polling import eventually
from tests.support.ports import free_port

T = TypeVar("T")

TABSERVE = str(Path(sys.executable).with_name("tabserve"))
START_TIMEOUT_S = 60


def copy_registry(source: Settings, root: Path) -> dict:
    """Copy a trained registry (database and artifacts) under ``root``; the registry config section."""
    database = Path(source.registry.url.removeprefix("sqlite:///"))
    root.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        if Path(f"{database}{suffix}").exists():
            shutil.copy(f"{database}{suffix}", root / f"registry.db{suffix}")
    shutil.copytree(source.registry.artifacts, root / "artifacts")
    return {"url": f"sqlite:///{root / 'registry.db'}", "artifacts": str(root / "artifacts")}


def write_config(root: Path, registry: dict, **sections: dict) -> Path:
    config = {
        "registry": registry,
        "logging": {"file": str(root / "tabserve.log"), "level": "INFO"},
        "search": {"n_jobs": 1},
        "server": {"reload_interval_s": 0.2},
    }
    for name, values in sections.items():
        config[name] = {**config.get(name, {}), **values}
    path = root / "tabserve.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


# Node ids of the collected tests marked slow (tests/conftest.py fills it): a real server process
# may start only inside one of them, so `make test-fast` never waits on a subprocess server.
SLOW_TESTS: set[str] = set()


def _refuse_outside_a_slow_test() -> None:
    current = os.environ.get("PYTEST_CURRENT_TEST", "").rsplit(" (", 1)[0]
    if current and current not in SLOW_TESTS:
        raise AssertionError(
            f"{current} starts a real server process: mark it @pytest.mark.slow, or use the "
            "in-process app (app_server, start_app) when no socket, signal or worker is involved"
        )


class Server:
    """One `tabserve serve` process and an HTTP client for it (only in tests marked slow)."""

    def __init__(self, config: Path, *args: str) -> None:
        _refuse_outside_a_slow_test()
        self.config = config
        self.root = config.parent
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.output = self.root / f"serve-{self.port}.out"
        env = {k: v for k, v in os.environ.items() if not k.startswith("TABSERVE_")}
        with self.output.open("wb") as out:
            self.process = subprocess.Popen(
                [TABSERVE, "-c", str(config), "serve", "--port", str(self.port), *args],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=self.root,
            )
        self.client = httpx.Client(base_url=self.url, timeout=30)

    def wait(
        self, path: str = "/readyz", status: int = 200, timeout: float = START_TIMEOUT_S
    ) -> httpx.Response:
        """The first answer to ``path`` with ``status``."""

        def answered() -> httpx.Response | None:
            response = self.client.get(path)
            return response if response.status_code == status else None

        return self.until(answered, f"{path} answering {status}", timeout)

    def until(self, condition: Callable[[], T], what: str, timeout: float = 120) -> T:
        """``eventually(condition)`` while this server runs: fails at once if it exits, and
        either failure carries the end of its log."""

        def running_and() -> T:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited with {self.process.returncode}:\n{self.log()}")
            return condition()

        try:
            return eventually(running_and, what, timeout, 0.1)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{self.log()}") from None

    def log(self) -> str:
        text = self.output.read_text(errors="replace")
        log_file = self.root / "tabserve.log"
        if log_file.exists():
            text += log_file.read_text(errors="replace")
        return text[-5000:]

    def terminate(self, timeout: float = 30) -> int:
        """SIGTERM, then wait; SIGKILL only if it hangs (which fails the caller's exit-code check)."""
        self.client.close()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def metric(client: httpx.Client, name: str) -> float:
    """The value of an unlabelled metric on the server's /metrics (one process: run one worker)."""
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(f"{name} "):
            return float(line.split()[-1])
    raise AssertionError(f"/metrics has no {name}")


def register_copy(config: Path, version: int = 1, model: str | None = None) -> int:
    """Register an existing version's model again as a new version of ``model`` (default: the
    config's model) without training; the new model's first version becomes production."""
    from tabserve.config import load_settings

    settings = load_settings(config, environ={})
    registry = open_registry(settings)
    try:
        record = registry.get(settings.model, version)
        fields = {name: getattr(record, name) for name in DESCRIBING_FIELDS}
        files = [StoredFile("model", "model.skops", registry.read_file(record))]
        target = model or settings.model
        new_version = registry.register(target, files, fields)
        if registry.metadata.alias_version(target) is None:
            registry.promote(target, new_version)
        return new_version
    finally:
        registry.close()


@contextlib.contextmanager
def serve_in_thread(app: object, **options: object) -> Iterator[httpx.Client]:
    """Serve an ASGI app with uvicorn in a thread of this process (on a free loopback port) until
    it is ready; a client for it. Tests then reach the app's own objects (state, loop) directly."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", **options))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            eventually(lambda: server.started or not thread.is_alive(), "uvicorn starting", START_TIMEOUT_S)
            assert server.started, "the in-process server stopped before it started"
            yield client
    finally:
        server.should_exit = True
        thread.join(30)


class InProcessServer:
    """The app ``tabserve serve`` runs (the fast paths in front of FastAPI), lifespan included,
    driven in this process through Starlette's TestClient: no socket, no subprocess, no HTTP guard.

    Protocol, route and predict behaviour is the app's, so it is tested here; what only a real
    server shows (the guard's limits, signals, workers) keeps a ``Server``.
    """

    def __init__(self, config: Path, *, fast_path: bool = True) -> None:
        from starlette.testclient import TestClient

        from tabserve.service.app import create_app, with_fast_predict

        self.config = config
        self.root = config.parent
        self.settings = load_settings(config, environ={})
        app = create_app(self.settings)
        self.app = with_fast_predict(app) if fast_path else app
        # Asked as 127.0.0.1: the server answers loopback names only without a token (same_site.py).
        self.client = TestClient(self.app, base_url="http://127.0.0.1", raise_server_exceptions=False)
        self.client.__enter__()  # the lifespan: state built, models loading, background tasks on
        self._running = True

    def __enter__(self) -> InProcessServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.terminate()

    def terminate(self) -> int:
        """Run the lifespan's shutdown (once); 0, like a server that exited cleanly."""
        if self._running:
            self._running = False
            self.client.__exit__(None, None, None)
        return 0

    def wait(
        self, path: str = "/readyz", status: int = 200, timeout: float = START_TIMEOUT_S
    ) -> httpx.Response:
        """The first answer to ``path`` with ``status`` (the lifespan loads models in the background)."""

        def answered() -> httpx.Response | None:
            response = self.client.get(path)
            return response if response.status_code == status else None

        return self.until(answered, f"{path} answering {status}", timeout)

    def until(self, condition: Callable[[], T], what: str, timeout: float = 120) -> T:
        """``eventually(condition)``; a failure carries the end of the app's log."""
        try:
            return eventually(condition, what, timeout)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{self.log()}") from None

    def log(self) -> str:
        log_file = self.root / "tabserve.log"
        return log_file.read_text(errors="replace")[-5000:] if log_file.exists() else ""


@contextlib.contextmanager
def guarded_in_thread(config: Path) -> Iterator[SimpleNamespace]:
    """The app a server runs (fast paths in front of FastAPI) behind the guarded HTTP protocol with
    the config's limits, served by uvicorn in a thread of this process on a loopback port, ready:
    ``url``, ``port``, ``client`` and ``config``. What only a socket shows, without a subprocess."""
    from tabserve.config import ServerSettings
    from tabserve.service.app import create_app, with_fast_predict
    from tabserve.service.http import guard

    settings = load_settings(config, environ={})
    guard.configure(settings.server)
    try:
        app = with_fast_predict(create_app(settings))
        with serve_in_thread(app, http=guard.GuardedHttpToolsProtocol) as client:
            eventually(lambda: client.get("/readyz").status_code == 200, "the app ready")
            url = str(client.base_url).rstrip("/")
            yield SimpleNamespace(url=url, port=client.base_url.port, client=client, config=config)
    finally:
        guard.configure(ServerSettings())  # the defaults again for any later server of this process


def asgi_exchange(app, base_url: str, calls):
    """Run ``await calls(client)`` against ``app`` in-process, its lifespan started and the model ready.

    ``app`` may be the FastAPI app or the ASGI wrappers around it (with_fast_predict).
    """
    import asyncio

    async def run():
        fastapi_app = app
        while not hasattr(fastapi_app, "router"):
            fastapi_app = fastapi_app.app
        async with fastapi_app.router.lifespan_context(fastapi_app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url=base_url) as client:
                for _ in range(300):  # the model loads in the background: wait until ready
                    if (await client.get("/readyz")).status_code == 200:
                        break
                    await asyncio.sleep(0.05)
                return await calls(client)

    return asyncio.run(run())
