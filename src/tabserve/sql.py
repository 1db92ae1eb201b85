"""Tables in SQL databases: read a training frame, write a table for `data load`.

SQLAlchemy URLs name the backend, so MySQL/MariaDB, PostgreSQL and SQLite go
through the same two functions.
"""

from __future__ import annotations

import logging
import re
from importlib.util import find_spec

import pandas as pd
import sqlalchemy as sa

from tabserve import database
from tabserve.database import driver_message
from tabserve.errors import BackendUnavailableError, DataError, TabserveError
from tabserve.urls import redact_url

log = logging.getLogger(__name__)

DATA_UNREACHABLE = "the training data's database is unreachable"
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")


def make_engine(url: str) -> sa.Engine:
    """An engine for a data source URL, or a DataError naming the URL (password hidden).

    Server connections get tabserve's connect timeout (tabserve.database), so a
    host that drops packets is reported in seconds instead of hanging a
    training job for minutes.
    """
    try:
        return database.create_engine(url, long_lived=False)
    except Exception as exc:
        raise DataError(f"data.url: cannot use '{redact_url(url)}': {exc}") from None


def connect_error(key: str, url: str, exc: BaseException) -> TabserveError:
    """Why ``url`` could not be used, as one line under ``key``: a missing database is not an outage.

    A server that answered "no such database" gets a DataError saying how to
    create it; anything else (refused, timed out, bad password) is "cannot reach".
    """
    safe = redact_url(url)
    if database.is_missing_database(exc):
        parsed = sa.make_url(url)
        where = f"{parsed.host}:{parsed.port}" if parsed.port else f"{parsed.host}"
        return DataError(
            f"{key}: the server at {where} answered, but it has no database '{parsed.database}' "
            f"({safe}); {database.create_database_hint(parsed)}"
        )
    return BackendUnavailableError(
        f"{key}: cannot reach {safe}: {driver_message(exc)}", public=DATA_UNREACHABLE
    )


def check_table_name(table: str) -> str:
    """Allow plain (optionally schema-qualified) identifiers only, never SQL text."""
    if not _IDENTIFIER.match(table):
        raise DataError(f"data.table: '{table}' is not a plain table name (letters, digits, _; schema.table)")
    return table


def _split_table(table: str) -> tuple[str | None, str]:
    schema, _, name = check_table_name(table).rpartition(".")
    return schema or None, name


# Query parameters connectorx understands the same way the SQLAlchemy driver does.
_CONNECTORX_QUERY_KEYS = {"postgresql": {"sslmode"}, "mysql": set()}


def connectorx_url(url: str) -> str | None:
    """The connectorx form of a SQLAlchemy URL (driver dropped, password kept), or None.

    None means "use pandas.read_sql": SQLite, other backends, sockets or
    driver options that connectorx would read differently.
    """
    try:
        parsed = sa.make_url(url)
    except Exception:
        return None
    backend = parsed.get_backend_name()
    scheme = {"mysql": "mysql", "mariadb": "mysql", "postgresql": "postgresql"}.get(backend)
    if scheme is None or not parsed.host or not parsed.database:
        return None
    if set(parsed.query) - _CONNECTORX_QUERY_KEYS[scheme]:
        return None
    return parsed.set(drivername=scheme).render_as_string(hide_password=False)


def _normalise_dtypes(frame: pd.DataFrame) -> pd.DataFrame:
    """Give connectorx's nullable integers the dtypes pandas.read_sql would: int64, or float64 with NaN."""
    for column in frame.columns:
        if isinstance(frame[column].dtype, pd.Int64Dtype):
            has_missing = bool(frame[column].isna().any())
            frame[column] = frame[column].astype("float64" if has_missing else "int64")
    return frame


def _read_with_connectorx(cx_url: str, sql: str) -> pd.DataFrame:
    import connectorx

    return _normalise_dtypes(connectorx.read_sql(cx_url, sql, return_type="pandas"))


def read_sql_frame(url: str, table: str | None = None, query: str | None = None) -> pd.DataFrame:
    """Read a whole table or a SELECT into a DataFrame.

    MySQL/MariaDB and PostgreSQL go through connectorx (faster than
    pandas.read_sql and lighter on memory: docs/benchmarks.md has the figures);
    anything it cannot take, or an error inside it, falls back to pandas.read_sql.
    """
    engine = make_engine(url)
    safe = redact_url(url)
    try:
        conn = engine.connect()
    except sa.exc.SQLAlchemyError as exc:
        engine.dispose()
        raise connect_error("data.url", url, exc) from None
    try:
        return _read(conn, url, safe, table, query)
    except (sa.exc.SQLAlchemyError, pd.errors.DatabaseError) as exc:
        # pandas wraps SQLAlchemy's error; unwrap it to tell an outage from a bad query.
        cause = exc if isinstance(exc, sa.exc.SQLAlchemyError) else exc.__cause__
        if isinstance(cause, sa.exc.DBAPIError) and cause.connection_invalidated:
            raise BackendUnavailableError(
                f"data.url: lost the connection to {safe}: {driver_message(cause)}", public=DATA_UNREACHABLE
            ) from None
        raise DataError(f"data: query on {safe} failed: {driver_message(cause or exc)}") from None
    finally:
        conn.close()
        engine.dispose()


def _read(conn: sa.Connection, url: str, safe: str, table: str | None, query: str | None) -> pd.DataFrame:
    if table is not None:
        schema, name = _split_table(table)
        if not sa.inspect(conn).has_table(name, schema=schema):
            raise DataError(f"data.table: table '{table}' does not exist in {safe}")
        quote = conn.dialect.identifier_preparer.quote
        sql = f"SELECT * FROM {quote(schema) + '.' if schema else ''}{quote(name)}"
    else:
        sql = query or ""
    # connectorx is in the `train` extra: a serving install reads with pandas.read_sql.
    cx_url = connectorx_url(url) if find_spec("connectorx") is not None else None
    if cx_url is None:
        log.debug("reading %s with pandas.read_sql (no connectorx form, or no connectorx)", safe)
        return pd.read_sql(sa.text(sql), conn)
    try:
        return _read_with_connectorx(cx_url, sql)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # connectorx reports Rust panics as BaseException
        log.warning(
            "connectorx could not read from %s (%s: %s); falling back to pandas.read_sql",
            safe,
            type(exc).__name__,
            str(exc).replace(cx_url, safe)[:300],
        )
    return pd.read_sql(sa.text(sql), conn)


# Stay under the bound-parameter limits: SQLite 32,766, PostgreSQL 65,535 per statement.
_MAX_PARAMETERS = 30_000
_VARCHAR_LIMIT = 255


def _column_types(frame: pd.DataFrame) -> dict[str, sa.types.TypeEngine]:
    """SQL types where pandas' defaults are poor: short strings as VARCHAR, not TEXT; floats as DOUBLE."""
    types: dict[str, sa.types.TypeEngine] = {}
    for column in frame.columns:
        values = frame[column]
        if pd.api.types.is_float_dtype(values):
            types[column] = sa.Double()
        elif pd.api.types.is_string_dtype(values) or values.dtype == object:
            lengths = values.dropna().astype(str).str.len()
            longest = int(lengths.max()) if len(lengths) else 0
            if longest <= _VARCHAR_LIMIT:
                types[column] = sa.String(_VARCHAR_LIMIT)
            else:
                types[column] = sa.Text()
    return types


def write_table(frame: pd.DataFrame, url: str, table: str, replace: bool = False) -> int:
    """Create ``table`` and fill it with ``frame``; refuse to append to an existing one."""
    schema, name = _split_table(table)
    engine = make_engine(url)
    safe = redact_url(url)
    frame = frame.rename(columns=str)
    try:
        with engine.begin() as conn:
            exists = sa.inspect(conn).has_table(name, schema=schema)
            if exists and not replace:
                raise DataError(
                    f"--table: '{table}' already exists in {safe}; pass --replace to overwrite it"
                )
            frame.to_sql(
                name,
                conn,
                schema=schema,
                if_exists="replace",
                index=False,
                dtype=_column_types(frame),
                chunksize=max(1, _MAX_PARAMETERS // max(1, len(frame.columns))),
                method="multi",
            )
        log.info("wrote %d rows to %s in %s", len(frame), table, safe)
        return len(frame)
    except sa.exc.OperationalError as exc:
        raise connect_error("--to", url, exc) from None
    except sa.exc.SQLAlchemyError as exc:
        raise DataError(f"--table: writing '{table}' to {safe} failed: {driver_message(exc)}") from None
    finally:
        engine.dispose()
