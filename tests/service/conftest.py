"""Real servers for the service tests: `tabserve serve` as a process on a free loopback port.

Each server gets its own copy of a registry trained once per session, so a
test may train, promote or roll back without touching another's state. Only
processes started here are stopped, by their PID.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
import yaml

from tabserve.config import Settings, load_settings
from tabserve.registry import StoredFile
from tabserve.registry.records import DESCRIBING_FIELDS
from tabserve.workflow import TrainOutcome, open_registry

TABSERVE = str(Path(sys.executable).with_name("tabserve"))
START_TIMEOUT_S = 60


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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


class Server:
    """One `tabserve serve` process and an HTTP client for it."""

    def __init__(self, config: Path, *args: str) -> None:
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
        deadline = time.monotonic() + timeout
        last: object = None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"server exited with {self.process.returncode}:\n{self.log()}")
            try:
                response = self.client.get(path)
                if response.status_code == status:
                    return response
                last = response.status_code
            except httpx.TransportError as exc:
                last = exc
            time.sleep(0.1)
        raise AssertionError(f"{path} never answered {status} (last: {last}):\n{self.log()}")

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


@pytest.fixture
def start_server() -> Iterator:
    """Start servers in a test; every one still running at the end is stopped."""
    started: list[Server] = []

    def start(config: Path, *args: str) -> Server:
        server = Server(config, *args)
        started.append(server)
        return server

    yield start
    for server in started:
        server.terminate()


@pytest.fixture
def iris_config(tmp_path: Path, trained_iris: tuple[Settings, TrainOutcome]) -> Path:
    """A config for a private copy of the session's trained iris registry (version 1, production)."""
    registry = copy_registry(trained_iris[0], tmp_path / "registry")
    return write_config(tmp_path, registry)


@pytest.fixture(scope="module")
def shared_server(
    tmp_path_factory: pytest.TempPathFactory, trained_iris: tuple[Settings, TrainOutcome]
) -> Iterator:
    """One read-only server for the many quick tests of a module (no token)."""
    root = tmp_path_factory.mktemp("shared-server")
    server = Server(write_config(root, copy_registry(trained_iris[0], root / "registry")))
    server.wait()
    yield server
    server.terminate()


def metric(client: httpx.Client, name: str) -> float:
    """The value of an unlabelled metric on the server's /metrics (one process: run one worker)."""
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(f"{name} "):
            return float(line.split()[-1])
    raise AssertionError(f"/metrics has no {name}")


def wait_for_metric(client: httpx.Client, name: str, at_least: float, timeout: float = 60) -> float:
    """Poll /metrics until ``name`` reaches ``at_least``; its value then, or fail at the deadline."""
    deadline = time.monotonic() + timeout
    while (value := metric(client, name)) < at_least:
        assert time.monotonic() < deadline, f"{name} stayed at {value} (waited for {at_least})"
        time.sleep(0.05)
    return value


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
def serve_in_thread(app: object) -> Iterator[httpx.Client]:
    """Serve an ASGI app with uvicorn in a thread of this process (on a free loopback port) until
    it is ready; a client for it. Tests then reach the app's own objects (state, loop) directly."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            deadline = time.monotonic() + START_TIMEOUT_S
            while not server.started:
                assert time.monotonic() < deadline and thread.is_alive(), (
                    "the in-process server never started"
                )
                time.sleep(0.05)
            yield client
    finally:
        server.should_exit = True
        thread.join(30)


@pytest.fixture(scope="module")
def declared_client(shared_server) -> Iterator[httpx.Client]:
    """The same registry served by the FastAPI app alone (no fast path in front): every
    predict reaches the declared route, so a test can run on both paths."""
    from tabserve.service.app import create_app

    with serve_in_thread(create_app(load_settings(shared_server.config, environ={}))) as client:
        deadline = time.monotonic() + 60
        while client.get("/readyz").status_code != 200:
            assert time.monotonic() < deadline, "the declared-only app never got ready"
            time.sleep(0.05)
        yield client


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
