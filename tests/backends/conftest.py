"""Real backends for tests: SQLite, MariaDB and PostgreSQL, one parametrised ``backend`` fixture.

Server URLs come from env vars (the local servers by default; see tests/support/backends.py). A
server that cannot be reached skips its tests with one line naming the env var, except under
CI=true, where it fails them: CI must not pass by testing nothing.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from tabserve.registry import tables as t
from tests.support.backends import BACKENDS, SERVERS, server_url, unique_name


@pytest.fixture(params=[pytest.param(b, marks=pytest.mark.backend) if b in SERVERS else b for b in BACKENDS])
def backend(request: pytest.FixtureRequest) -> str:
    """Each backend in turn; the server ones are marked ``backend``, SQLite runs with the fast tests."""
    return request.param


@pytest.fixture
def db_url(backend: str, tmp_path: Path) -> str:
    """A database on ``backend``; shared between tests, so use unique table and model names."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'backend.db'}"
    return server_url(backend)


@pytest.fixture
def empty_db_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """A database with no tables at all (a new one, dropped afterwards), for first-use tests."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    url = sa.make_url(server_url(backend))
    name = unique_name("tabserve_tmp")
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name}"))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            force = " WITH (FORCE)" if backend == "postgresql" else ""
            conn.execute(sa.text(f"DROP DATABASE {name}{force}"))
        admin.dispose()


@pytest.fixture
def table_name(db_url: str) -> Iterator[str]:
    """A fresh table name on ``db_url``; the table is dropped afterwards if a test made it."""
    name = unique_name("tbl")
    yield name
    engine = sa.create_engine(db_url)
    with engine.begin() as conn:
        conn.execute(sa.text(f"DROP TABLE IF EXISTS {name}"))
    engine.dispose()


@pytest.fixture
def model_name(db_url: str) -> Iterator[str]:
    """A fresh model name; its registry rows are deleted afterwards so shared databases stay small."""
    name = unique_name("m")
    yield name
    engine = sa.create_engine(db_url)
    try:
        with engine.begin() as conn:
            if sa.inspect(conn).has_table(t.versions.name):
                for table in (t.versions, t.aliases, t.alias_history, t.jobs, t.training_locks):
                    conn.execute(sa.delete(table).where(table.c.model == name))
    finally:
        engine.dispose()


def _run_together(script: str, argv_list: list[list[str]], timeout: float = 120) -> list[str]:
    """Run ``script`` in one process per argv, released at the same instant; return each stdout.

    Each process prints a line once its imports are done and then waits for
    "go" on stdin, so the interesting part (a migration, an insert) really
    overlaps instead of being spread out by interpreter start-up.
    """
    import sys

    preamble = "print('ready', flush=True)\nsys.stdin.readline()\n"
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", "import sys\n" + script.replace("# --ready--", preamble), *argv],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for argv in argv_list
    ]
    try:
        for process in processes:
            assert process.stdout is not None and process.stdout.readline().strip() == "ready", (
                process.stderr.read() if process.stderr else ""
            )
        for process in processes:
            assert process.stdin is not None
            process.stdin.write("go\n")
            process.stdin.flush()
        outputs = []
        for process in processes:
            out, err = process.communicate(timeout=timeout)
            assert process.returncode == 0, f"writer exited {process.returncode}: {err[-2000:]}"
            outputs.append(out)
        return outputs
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()


@pytest.fixture
def run_together():
    """``run_together(script, [argv, ...])``: see _run_together; mark the start with ``# --ready--``."""
    return _run_together
