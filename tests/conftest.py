"""Shared fixtures: settings rooted in a temporary folder, a registry with iris trained, servers
(a real process, or the same app in this process) on a copy of it, and the backend servers.

Helpers live in tests/support/ (plain modules); no test module imports another.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING

# One OpenMP thread per test process (scikit-learn's HistGradientBoosting, XGBoost, LightGBM): make
# test runs one process per core, and a thread per core in each would spin against the others.
# Set before anything loads an OpenMP runtime; the servers and jobs tests start inherit it.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import pandas as pd
import pytest

from tabserve.config import Settings
from tabserve.registry import ModelStore, open_registry
from tabserve.service.predict import reloader
from tabserve.workflow import TrainOutcome, train_and_register
from tests.support.backends import (  # noqa: F401 (fixtures registered for the whole suite)
    aws_env,
    private_postgres,
    s3_bucket,
    s3_client,
    s3_endpoint,
)
from tests.support.servers import (
    SLOW_TESTS,
    InProcessServer,
    Server,
    copy_registry,
    guarded_in_thread,
    write_config,
)
from tests.support.settings import make_settings

if TYPE_CHECKING:
    from tabserve.service.predict.core import PredictCore

# What a swap runs in a server process; in this process only tests that ask for it get it (below).
REAL_REFREEZE_HEAP = reloader.refreeze_heap

# The only skips CI accepts (README, "Tests and services"): checks that cannot apply to SQLite.
CI_ALLOWED_SKIPS = ("SQLite has no passwords",)


def ci_refuses_skip(reason: str) -> bool:
    """Under CI=true a skip is a failure unless it is one of the documented SQLite skips."""
    return os.environ.get("CI") == "true" and not any(allowed in reason for allowed in CI_ALLOWED_SKIPS)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Remember which tests are marked slow: only those may start a real server process."""
    SLOW_TESTS.update(item.nodeid for item in items if item.get_closest_marker("slow"))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """Turn a skip CI cannot accept (no binaries, no server, no postgres user) into a failure."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and not hasattr(report, "wasxfail") and isinstance(report.longrepr, tuple):
        reason = str(report.longrepr[2]).removeprefix("Skipped: ")
        if ci_refuses_skip(reason):
            report.outcome = "failed"
            report.longrepr = (
                f"skipped under CI=true, which must run every test: {reason} "
                f"(only {', '.join(repr(r) for r in CI_ALLOWED_SKIPS)} may skip there)"
            )


@pytest.fixture(scope="session", autouse=True)
def pictures_drawn_once() -> Iterator[None]:
    """The same picture of the same table is drawn once per test process: each training in a test
    draws iris's pairplot (seaborn: seconds), and the bytes depend only on the arguments.

    Only this process's calls are kept; a server or job process draws its own.
    """
    from tabserve import plots

    drawn: dict[tuple, bytes] = {}

    def remembered(draw: Callable[..., bytes], key: tuple, *args: object) -> bytes:
        if key not in drawn:
            drawn[key] = draw(*args)
        return drawn[key]

    pairplot, confusion = plots.pairplot_png, plots.confusion_matrix_png

    def pairplot_png(frame: pd.DataFrame, target: str, colour: bool = True) -> bytes:
        content = pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes()
        key = ("pairplot", tuple(map(str, frame.columns)), content, target, colour)
        return remembered(pairplot, key, frame, target, colour)

    def confusion_matrix_png(labels: list[str], matrix: list[list[int]], title: str) -> bytes:
        key = ("confusion", repr(labels), repr(matrix), title)
        return remembered(confusion, key, labels, matrix, title)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(plots, "pairplot_png", pairplot_png)
        patch.setattr(plots, "confusion_matrix_png", confusion_matrix_png)
        yield


@pytest.fixture(scope="session", autouse=True)
def swaps_in_this_process_skip_the_heap_collection() -> Iterator[None]:
    """A model swap in a test process does not collect and refreeze the whole heap.

    After a swap the reloader undoes the last ``gc.freeze()``, collects everything and freezes it
    again. A test process's heap (pytest, every test module, every library) makes that one
    collection about a third of a second, and the in-process apps swap hundreds of times, which
    was a large part of the fast tests' CPU. Server and job processes keep the real one, and
    ``real_heap_refreeze`` gives it back to the tests that check it.
    """
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(reloader, "refreeze_heap", lambda: (0.0, gc.get_freeze_count()))
        yield


@pytest.fixture
def real_heap_refreeze(monkeypatch: pytest.MonkeyPatch) -> None:
    """The reloader's real ``refreeze_heap`` (collect, then freeze) for this test."""
    monkeypatch.setattr(reloader, "refreeze_heap", REAL_REFREEZE_HEAP)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture
def registry(settings: Settings) -> ModelStore:
    opened = open_registry(settings)
    yield opened
    opened.close()


@pytest.fixture(scope="session")
def trained_iris(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, TrainOutcome]:
    """Iris trained once per session with the default (seed) grid; read-only for tests."""
    root = tmp_path_factory.mktemp("iris-registry")
    iris_settings = make_settings(root)
    return iris_settings, train_and_register(iris_settings)


@pytest.fixture
def start_server() -> Iterator:
    """Start real servers in a test; every one still running at the end is stopped."""
    started: list[Server] = []

    def start(config: Path, *args: str) -> Server:
        server = Server(config, *args)
        started.append(server)
        return server

    yield start
    for server in started:
        server.terminate()


@pytest.fixture
def start_app() -> Iterator:
    """Start apps in this process (``InProcessServer``) in a test; each is shut down at the end."""
    started: list[InProcessServer] = []

    def start(config: Path) -> InProcessServer:
        server = InProcessServer(config)
        started.append(server)
        return server

    yield start
    for server in reversed(started):
        server.terminate()


@pytest.fixture
def iris_config(tmp_path: Path, trained_iris: tuple[Settings, TrainOutcome]) -> Path:
    """A config for a private copy of the session's trained iris registry (version 1, production)."""
    registry = copy_registry(trained_iris[0], tmp_path / "registry")
    return write_config(tmp_path, registry)


@pytest.fixture
def jobs_config(tmp_path: Path, trained_iris: tuple[Settings, TrainOutcome]) -> Path:
    """``iris_config`` whose training jobs store no pictures: drawing them is most of a job process's
    work, and tests that train in this process check the pictures."""
    registry = copy_registry(trained_iris[0], tmp_path / "registry")
    return write_config(tmp_path, {**registry, "pictures": False})


@pytest.fixture
def core(iris_config: Path) -> Iterator[PredictCore]:
    """The predict core alone on a private iris registry (version 1 loaded, at most 3 rows a batch)."""
    from tests.support.core import loaded_core

    with loaded_core(iris_config, max_batch_rows=3) as loaded:
        yield loaded


@pytest.fixture(scope="module")
def shared_config(
    tmp_path_factory: pytest.TempPathFactory, trained_iris: tuple[Settings, TrainOutcome]
) -> Path:
    """One read-only copy of the trained iris registry for the many quick tests of a module."""
    root = tmp_path_factory.mktemp("shared-server")
    return write_config(root, copy_registry(trained_iris[0], root / "registry"))


@pytest.fixture(scope="module")
def socket_server(shared_config: Path) -> Iterator[SimpleNamespace]:
    """The shared registry served on a loopback port behind the HTTP guard, in this process
    (``url``, ``port``, ``client``): for the guard and for clients that need a URL."""
    with guarded_in_thread(shared_config) as server:
        yield server


@pytest.fixture(scope="module")
def shared_server(socket_server: SimpleNamespace) -> SimpleNamespace:
    """The name tests used for a shared real server: now the same app on a socket in this process."""
    return socket_server


@pytest.fixture(scope="module")
def app_server(shared_config: Path) -> Iterator[InProcessServer]:
    """The app a server runs, in this process on the shared registry, ready to answer."""
    with InProcessServer(shared_config) as server:
        server.wait()
        yield server


@pytest.fixture(scope="module")
def declared_client(shared_config: Path) -> Iterator:
    """The same registry served by the FastAPI app alone (no fast path in front): every
    predict reaches the declared route, so a test can run on both paths."""
    with InProcessServer(shared_config, fast_path=False) as server:
        server.wait()
        yield server.client
