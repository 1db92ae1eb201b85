"""Tables in SQL databases: read a training frame, write a table for `data load`.

SQLAlchemy URLs name the backend, so MySQL/MariaDB, PostgreSQL and SQLite go
through the same two functions.
"""

from __future__ import annotations

import logging
import re

import pandas as pd
import sqlalchemy as sa

from tabserve.errors import BackendUnavailableError, DataError

log = logging.getLogger(__name__)

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")


def redact_url(url: str) -> str:
    """The URL with any password replaced, safe to log or show."""
    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparseable database URL>"


def make_engine(url: str, **kwargs: object) -> sa.Engine:
    """An engine for a URL, or a DataError naming the URL (password hidden)."""
    try:
        return sa.create_engine(url, **kwargs)
    except Exception as exc:
        raise DataError(f"data.url: cannot use '{redact_url(url)}': {exc}") from None


def check_table_name(table: str) -> str:
    """Allow plain (optionally schema-qualified) identifiers only, never SQL text."""
    if not _IDENTIFIER.match(table):
        raise DataError(
            f"data.table: '{table}' is not a plain table name (letters, digits, _; schema.table)"
        )
    return table


def _table_select(engine: sa.Engine, table: str) -> sa.Select:
    schema, _, name = table.rpartition(".")
    reflected = sa.Table(name, sa.MetaData(), schema=schema or None, autoload_with=engine)
    return sa.select(reflected)


def read_sql_frame(url: str, table: str | None = None, query: str | None = None) -> pd.DataFrame:
    """Read a whole table or a SELECT into a DataFrame."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            if table is not None:
                check_table_name(table)
                try:
                    statement = _table_select(engine, table)
                except sa.exc.NoSuchTableError:
                    raise DataError(
                        f"data.table: table '{table}' does not exist in {redact_url(url)}"
                    ) from None
            else:
                statement = sa.text(query or "")
            return pd.read_sql(statement, conn)
    except sa.exc.OperationalError as exc:
        raise BackendUnavailableError(
            f"data.url: cannot reach {redact_url(url)}: {exc.orig}"
        ) from None
    except sa.exc.SQLAlchemyError as exc:
        origin = getattr(exc, "orig", None) or exc
        raise DataError(f"data: query on {redact_url(url)} failed: {origin}") from None
    finally:
        engine.dispose()


def write_table(frame: pd.DataFrame, url: str, table: str, replace: bool = False) -> int:
    """Create ``table`` and fill it with ``frame``; refuse to append to an existing one."""
    check_table_name(table)
    schema, _, name = table.rpartition(".")
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            exists = sa.inspect(conn).has_table(name, schema=schema or None)
            if exists and not replace:
                raise DataError(
                    f"--table: '{table}' already exists in {redact_url(url)}; "
                    "pass --replace to overwrite it"
                )
            frame.to_sql(
                name,
                conn,
                schema=schema or None,
                if_exists="replace",
                index=False,
                chunksize=10_000,
                method="multi",
            )
        log.info("wrote %d rows to %s in %s", len(frame), table, redact_url(url))
        return len(frame)
    except sa.exc.OperationalError as exc:
        raise BackendUnavailableError(f"cannot reach {redact_url(url)}: {exc.orig}") from None
    finally:
        engine.dispose()
