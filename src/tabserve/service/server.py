"""`tabserve serve`: uvicorn (uvloop, httptools, no access log) with one or more worker processes.

Several workers share one port through uvicorn's supervisor, which needs an
import string and a factory: each worker rebuilds the app from the settings
the parent validated, passed as JSON in the environment (so CLI flags and
environment overrides reach every worker unchanged). SIGTERM stops accepting,
lets in-flight requests finish and exits 0 (uvicorn's graceful shutdown).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
from collections.abc import Iterator
from pathlib import Path

from tabserve.config import Settings, load_settings
from tabserve.service.allocator import tune_allocator
from tabserve.service.app import create_app, with_fast_predict
from tabserve.service.auth import check_bind
from tabserve.service.predict_fastpath import PredictFastPath
from tabserve.urls import redact_url

log = logging.getLogger(__name__)

SETTINGS_ENV = "TABSERVE_SERVE_SETTINGS"
GRACEFUL_SHUTDOWN_S = 30


def app_from_env() -> PredictFastPath:
    """uvicorn's factory in each worker process."""
    from tabserve.logs import configure_logging

    raw = os.environ.get(SETTINGS_ENV)
    settings = Settings.model_validate_json(raw) if raw else load_settings()
    configure_logging(settings.logging)
    tune_allocator()
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
    configure_logging(settings.logging)
    log.info(
        "serving model %s from %s (config %s) on http://%s:%d with %d worker(s); token %s",
        settings.model,
        redact_url(settings.registry.url),
        config_path or "built-in defaults",
        server.host,
        server.port,
        server.workers,
        "required for train/promote/rollback" if server.token else "not set",
    )
    options = {
        "host": server.host,
        "port": server.port,
        "loop": "uvloop",
        "http": "httptools",
        "access_log": False,
        "server_header": False,
        "timeout_graceful_shutdown": GRACEFUL_SHUTDOWN_S,
        "log_level": "info",
    }
    with _sigterm_exits_cleanly():
        if server.workers == 1:
            tune_allocator()
            uvicorn.run(with_fast_predict(create_app(settings)), **options)
            return
        os.environ[SETTINGS_ENV] = settings.model_dump_json()
        uvicorn.run("tabserve.service.server:app_from_env", factory=True, workers=server.workers, **options)
