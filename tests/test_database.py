"""The database plumbing every engine shares: one timeout, one message form, SQLite modes by ownership."""

from __future__ import annotations

import sqlite3

import pytest
import sqlalchemy as sa

from tabserve import database
from tabserve.errors import BackendUnavailableError


@pytest.mark.parametrize("url", ["mysql+pymysql://u:p@db.example/x", "postgresql+psycopg://u:p@db.example/x"])
def test_server_engines_get_the_one_connect_timeout(url):
    for long_lived in (True, False):
        options = database.engine_options(sa.make_url(url), long_lived)
        assert options["connect_args"] == {"connect_timeout": database.CONNECT_TIMEOUT_S}
    assert database.engine_options(sa.make_url(url), True)["pool_pre_ping"] is True


def test_a_timeout_in_the_url_wins():
    url = sa.make_url("postgresql+psycopg://u@db.example/x?connect_timeout=2")
    assert "connect_args" not in database.engine_options(url)


def test_driver_message_is_one_line_without_the_sql():
    wrapped = sa.exc.OperationalError("SELECT secret_sql", {}, Exception("server closed\n  the connection"))
    assert database.driver_message(wrapped) == "server closed the connection"
    assert database.driver_message(ValueError("a\nb")) == "a b"


def test_outage_names_what_and_is_one_line():
    with (
        pytest.raises(BackendUnavailableError) as caught,
        database.translate_outage("registry database sqlite:///x"),
    ):
        raise sa.exc.OperationalError("SELECT 1", {}, Exception("gone\naway"))
    assert str(caught.value) == "registry database sqlite:///x unavailable: gone away"


def test_deadlock_is_a_transient_conflict():
    deadlock = Exception(1213, "Deadlock found")
    with pytest.raises(database.TransientConflict), database.translate_outage("db"):
        raise sa.exc.OperationalError("UPDATE", {}, deadlock)


def test_own_sqlite_is_wal_and_a_users_file_is_left_alone(tmp_path):
    users = tmp_path / "users.db"
    sqlite3.connect(users).close()
    engine = database.create_engine(f"sqlite:///{users}", long_lived=False)
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "delete"
    finally:
        engine.dispose()

    own = database.create_engine(f"sqlite:///{tmp_path / 'new' / 'registry.db'}", own_sqlite=True)
    try:
        with own.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    finally:
        own.dispose()
