"""Real backends for tests: SQLite, MariaDB, PostgreSQL, an S3 server, a private PostgreSQL.

Server URLs come from env vars (the local servers by default). A server that
cannot be reached skips its tests with one line naming the env var, except
under CI=true, where it fails them: CI must not pass by testing nothing.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from glob import glob
from pathlib import Path

import pytest
import sqlalchemy as sa

from tabserve.registry import tables as t
from tabserve.sql import redact_url

SERVERS = {
    "mariadb": ("TABSERVE_TEST_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306/tabserve_test"),
    "postgresql": (
        "TABSERVE_TEST_POSTGRES_URL",
        "postgresql+psycopg://postgres@127.0.0.1:5432/tabserve_test",
    ),
}
BACKENDS = ["sqlite", *SERVERS]
_reachable: dict[str, str | None] = {}  # backend -> None if reachable, else why not


def unique_name(prefix: str = "t") -> str:
    """A table or model name no other test run uses, so reruns never see old rows."""
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_url(backend: str) -> str:
    """The URL of a running server for ``backend``, or skip (fail under CI=true) saying how to enable it."""
    env, default = SERVERS[backend]
    url = os.environ.get(env, default)
    if backend not in _reachable:
        engine = sa.create_engine(url, connect_args={"connect_timeout": 3})
        try:
            with engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
            _reachable[backend] = None
        except Exception as exc:
            _reachable[backend] = f"{type(exc).__name__}: {str(getattr(exc, 'orig', exc)).splitlines()[0]}"
        finally:
            engine.dispose()
    why = _reachable[backend]
    if why is not None:
        message = f"{backend} not reachable at {redact_url(url)} ({why}); set {env} to a reachable server"
        if os.environ.get("CI") == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return url


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
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


# -- S3: moto's server on a loopback port, spoken to over HTTP ---------------------------------------


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A real S3-compatible HTTP server for the session (moto's server mode, no in-process patching)."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Credentials and region through the standard AWS variables, as a user would set them."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "tabserve-test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "tabserve-test-secret")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def s3_client(s3_endpoint: str, aws_env: None):
    import boto3

    return boto3.client("s3", endpoint_url=s3_endpoint)


@pytest.fixture
def s3_bucket(s3_client) -> str:
    """A new, empty bucket on the S3 server."""
    name = unique_name("bucket").replace("_", "-")
    s3_client.create_bucket(Bucket=name)
    return name


# -- a private PostgreSQL cluster that tests may stop and start ----------------------------------------


def _postgres_bin() -> Path:
    found = sorted(glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if not found:
        pytest.skip("no PostgreSQL server binaries under /usr/lib/postgresql/*/bin")
    return Path(found[-1]).parent


@dataclass
class PrivatePostgres:
    """One PostgreSQL cluster in its own folder and port, owned by a test.

    Trust authentication, so ``url`` may carry any password: tests use that to
    check passwords never reach messages.
    """

    bin_dir: Path
    data_dir: Path
    port: int
    run_as: list[str] = field(default_factory=list)
    password: str = "private-pg-secret"

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres:{self.password}@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str, timeout: float = 60) -> None:
        subprocess.run([*self.run_as, *args], check=True, capture_output=True, timeout=timeout)

    def init(self) -> None:
        self._run(
            str(self.bin_dir / "initdb"), "-D", str(self.data_dir / "data"), "-U", "postgres",
            "--auth=trust", "--no-sync", "-E", "UTF8",
        )  # fmt: skip

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' "
            "-c fsync=off -c full_page_writes=off"
        )
        self._run(
            str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir / "data"), "-o", options,
            "-l", str(self.data_dir / "server.log"), "-w", "-t", "60", "start",
        )  # fmt: skip

    def stop(self) -> None:
        self._run(str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir / "data"), "-m", "fast", "-w", "stop")

    def restart(self) -> None:
        self.stop()
        self.start()

    def is_running(self) -> bool:
        status = subprocess.run(
            [*self.run_as, str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir / "data"), "status"],
            capture_output=True,
            check=False,
        )
        return status.returncode == 0


@pytest.fixture
def private_postgres(tmp_path: Path) -> Iterator[PrivatePostgres]:
    """A started private PostgreSQL cluster; stopped and deleted afterwards, whatever the test did.

    initdb refuses to run as root, so as root the cluster belongs to the
    ``postgres`` user and lives in a folder it can enter (pytest's tmp_path is
    private to root).
    """
    bin_dir = _postgres_bin()
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no 'postgres' user to own a private cluster")
        data_dir = Path(tempfile.mkdtemp(prefix="tabserve-pg-"))
        os.chown(data_dir, owner.pw_uid, owner.pw_gid)
        run_as = ["runuser", "-u", "postgres", "--"]
    else:
        data_dir, run_as = tmp_path / "pg", []
        data_dir.mkdir()
    cluster = PrivatePostgres(bin_dir, data_dir, free_port(), run_as)
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        if cluster.is_running():
            cluster.stop()
        if run_as:
            shutil.rmtree(data_dir, ignore_errors=True)


def wait_until(predicate, timeout: float = 10.0, interval: float = 0.1) -> bool:
    """Poll ``predicate`` until it is true or ``timeout`` passes; tests assert on the result."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())


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
