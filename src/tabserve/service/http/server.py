"""`tabserve serve`: uvicorn (uvloop, httptools, no access log) with one or more worker processes.

Several workers share one port through uvicorn's supervisor, which needs an
import string and a factory: each worker rebuilds the app from the settings
the parent validated, passed as JSON in a file only this user can read (so CLI
flags and environment overrides reach every worker unchanged, and the token
and database passwords are not in any worker's ``/proc/PID/environ``). The
environment carries only the file's path; the file goes when the server stops. SIGTERM stops accepting,
lets in-flight requests finish and exits 0 (uvicorn's graceful shutdown).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path

from tabserve.config import Settings, load_settings
from tabserve.config_sources import ENV_PREFIX
from tabserve.model_configs import check_model_configs
from tabserve.service.app import create_app, with_fast_predict
from tabserve.service.http import guard as http_guard
from tabserve.service.http.allocator import tune_allocator
from tabserve.service.http.auth import check_bind
from tabserve.service.http.ports import PortInUseError, check_port_free
from tabserve.service.http.same_site import HostCheck
from tabserve.service.predict.metrics import MULTIPROCESS_ENV
from tabserve.urls import redact_url

log = logging.getLogger(__name__)

SETTINGS_FILE_ENV = "TABSERVE_SERVE_SETTINGS_FILE"
GRACEFUL_SHUTDOWN_S = 30


def app_from_env() -> HostCheck:
    """uvicorn's factory in each worker process."""
    from tabserve.logs import configure_logging

    path = os.environ.get(SETTINGS_FILE_ENV)
    settings = _read_settings_file(Path(path)) if path else load_settings()
    configure_logging(settings.logging)
    tune_allocator()
    http_guard.configure(settings.server)
    return with_fast_predict(create_app(settings))


@contextlib.contextmanager
def _sigterm_exits_cleanly() -> Iterator[None]:
    """uvicorn re-raises the signal it stopped on once shutdown is done; for SIGTERM the default
    action would then make the exit status -15, so a handler that only logs takes its place."""
    previous = signal.signal(signal.SIGTERM, lambda *_: log.info("stopped by SIGTERM"))
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_server(settings: Settings, config_path: str | Path | None = None) -> None:
    """Serve until SIGTERM or Ctrl-C; refuses an exposed bind without a token first."""
    import uvicorn

    from tabserve.logs import configure_logging

    server = settings.server
    check_bind(server)
    check_model_configs(settings)
    check_port_free(server.host, server.port)
    if server.grpc_port:
        try:
            check_port_free(server.host, server.grpc_port)
        except PortInUseError:
            raise PortInUseError(
                f"cannot serve gRPC on {server.host}:{server.grpc_port}: the port is in use by another "
                "process; stop it or pick another port with --grpc-port N"
            ) from None
    configure_logging(settings.logging)
    log.info(
        "serving model %s from %s (config %s) on http://%s:%d (gRPC port: %s) with %d worker(s); token %s",
        settings.model,
        redact_url(settings.registry.url),
        config_path or "built-in defaults",
        server.host,
        server.port,
        server.grpc_port if server.grpc_port is not None else "off",
        server.workers,
        "required for train/promote/rollback" if server.token else "not set",
    )
    options = {
        "host": server.host,
        "port": server.port,
        "loop": "uvloop",
        "http": http_guard.GuardedHttpToolsProtocol,
        "access_log": False,
        "server_header": False,
        "timeout_graceful_shutdown": GRACEFUL_SHUTDOWN_S,
        "log_level": "info",
        "log_config": None,  # uvicorn logs through the handlers configure_logging set up
    }
    with _sigterm_exits_cleanly():
        if server.workers == 1:
            tune_allocator()
            http_guard.configure(server)
            uvicorn.run(with_fast_predict(create_app(settings)), **options)
            return
        with _settings_file(settings) as path, _shared_metrics_dir():
            for name in [n for n in os.environ if n.startswith(ENV_PREFIX)]:
                del os.environ[name]  # the workers read the file; secrets set by env stay in this process
            os.environ[SETTINGS_FILE_ENV] = str(path)
            uvicorn.run(
                "tabserve.service.http.server:app_from_env", factory=True, workers=server.workers, **options
            )


@contextlib.contextmanager
def _shared_metrics_dir() -> Iterator[Path]:
    """An empty folder the workers write their metrics to (so any scrape counts them all), then gone."""
    folder = Path(tempfile.mkdtemp(prefix="tabserve-metrics-"))
    previous = os.environ.get(MULTIPROCESS_ENV)
    os.environ[MULTIPROCESS_ENV] = str(folder)
    try:
        yield folder
    finally:
        if previous is None:
            os.environ.pop(MULTIPROCESS_ENV, None)
        else:
            os.environ[MULTIPROCESS_ENV] = previous
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def _settings_file(settings: Settings) -> Iterator[Path]:
    """The settings as JSON in a 0600 file inside a 0700 folder, removed on the way out."""
    folder = Path(tempfile.mkdtemp(prefix="tabserve-settings-"))  # mode 0700
    path = folder / "settings.json"
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            # The config file's folder travels too: a train request's relative paths are read against it.
            handle.write(
                json.dumps(
                    {"base_dir": settings.base_dir, "settings": settings.model_dump(mode="json")}
                ).encode()
            )
        yield path
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _read_settings_file(path: Path) -> Settings:
    """The settings a worker's parent wrote with _settings_file."""
    written = json.loads(path.read_bytes())
    return Settings.model_validate(written["settings"]).with_base_dir(written["base_dir"])
