"""Shared fixtures: settings rooted in a temporary folder, and a registry with iris trained."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tabserve.config import Settings, load_settings
from tabserve.registry import ModelStore, open_registry
from tabserve.workflow import TrainOutcome, train_and_register

# The only skips CI accepts (README, "Tests and services"): checks that cannot apply to SQLite.
CI_ALLOWED_SKIPS = ("SQLite has no passwords",)


def ci_refuses_skip(reason: str) -> bool:
    """Under CI=true a skip is a failure unless it is one of the documented SQLite skips."""
    return os.environ.get("CI") == "true" and not any(allowed in reason for allowed in CI_ALLOWED_SKIPS)


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


def make_settings(root: Path, **sections: dict) -> Settings:
    """Settings whose registry, artifacts and log live under ``root``; sections override."""
    base = {
        "registry": {"url": f"sqlite:///{root / 'registry.db'}", "artifacts": str(root / "artifacts")},
        "logging": {"file": None},
        "search": {"n_jobs": 1},
    }
    for name, values in sections.items():
        base[name] = {**base.get(name, {}), **values} if isinstance(values, dict) else values
    return load_settings(environ={}, overrides=base)


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


def error_of_call(call, deadline_s: float) -> BaseException | None:
    """Run ``call`` in a thread and wait for it to finish (the event); what it raised, or None.

    Fails if it is still running at the deadline: a hang guard derived from the
    code's own timeout, not a speed claim.
    """
    import threading
    import time

    outcome: list[BaseException | None] = []

    def runner() -> None:
        try:
            call()
            outcome.append(None)
        except BaseException as exc:  # handed to the test to assert on
            outcome.append(exc)

    thread = threading.Thread(target=runner, daemon=True)
    thread.start()
    deadline = time.monotonic() + deadline_s
    while thread.is_alive() and time.monotonic() < deadline:
        thread.join(0.05)
    assert not thread.is_alive(), f"still running after {deadline_s:g} s: it waits past its own timeout"
    return outcome[0]
