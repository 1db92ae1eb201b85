"""Settings for tests and a hang guard for calls that must end by their own timeout."""

from __future__ import annotations

from pathlib import Path

from tabserve.config import Settings, load_settings


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
