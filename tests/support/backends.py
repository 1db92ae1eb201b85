"""Backend servers shared by backend and service tests: the MariaDB/PostgreSQL URLs (skipped, or
failed under CI=true, when unreachable; one database per pytest-xdist worker), an S3 server and a
private PostgreSQL cluster.

The fixtures here are registered for the whole suite by tests/conftest.py.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from glob import glob
from pathlib import Path

import pytest
import sqlalchemy as sa

from tabserve.sql import redact_url
from tests.support.ports import free_port

SERVERS = {
    "mariadb": ("TABSERVE_TEST_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306/tabserve_test"),
    "postgresql": (
        "TABSERVE_TEST_POSTGRES_URL",
        "postgresql+psycopg://postgres@127.0.0.1:5432/tabserve_test",
    ),
}
BACKENDS = ["sqlite", *SERVERS]
_reachable: dict[str, str | None] = {}  # backend -> None if reachable, else why not
_worker_urls: dict[str, str] = {}  # backend -> the URL this process's tests use


def unique_name(prefix: str = "t") -> str:
    """A table or model name no other test run uses, so reruns never see old rows."""
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


def _worker_database(url: str, backend: str) -> str:
    """Under pytest-xdist, each worker's own database beside the configured one (``<name>_gw0``),
    created on first use: tests that count rows or migrate a schema never see another worker's."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        return url
    parsed = sa.make_url(url)
    name = f"{parsed.database}_{worker}"
    admin = sa.create_engine(
        parsed.set(database="postgres" if backend == "postgresql" else None),
        isolation_level="AUTOCOMMIT",
        connect_args={"connect_timeout": 3},
    )
    try:
        with admin.connect() as conn:
            if backend == "postgresql":
                found = conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
                if found.first() is None:
                    conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
            else:
                conn.execute(sa.text(f"CREATE DATABASE IF NOT EXISTS `{name}`"))
    finally:
        admin.dispose()
    return parsed.set(database=name).render_as_string(hide_password=False)


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
            _worker_urls[backend] = _worker_database(url, backend)
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
    return _worker_urls[backend]


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
