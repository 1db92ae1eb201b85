"""SQL for scoring: the base SELECT of a source, a range of it in chunks, and a partition's atomic write."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
import sqlalchemy as sa

from tabserve.errors import DataError
from tabserve.sql import check_table_name, connect_error, make_engine
from tabserve.urls import redact_url


def _quote_table(conn: sa.Connection, table: str) -> str:
    quote = conn.dialect.identifier_preparer.quote
    return ".".join(quote(part) for part in check_table_name(table).split("."))


def base_select(url: str, table: str | None, query: str | None) -> str:
    """``SELECT * FROM table`` (quoted for the URL's dialect) or the configured query."""
    if query:
        return query.strip().rstrip(";")
    assert table is not None
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return f"SELECT * FROM {_quote_table(conn, table)}"
    except sa.exc.OperationalError as exc:
        raise connect_error("score source url", url, exc) from None
    finally:
        engine.dispose()


def columns_and_count(url: str, sql: str) -> tuple[list[str], int]:
    """The source's column names and its row count."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            result = conn.execute(sa.text(f"SELECT * FROM ({sql}) AS q WHERE 1 = 0"))
            columns = list(result.keys())
            count = conn.execute(sa.text(f"SELECT COUNT(*) FROM ({sql}) AS q")).scalar_one()
            return columns, int(count)
    except sa.exc.OperationalError as exc:
        raise connect_error("score source url", url, exc) from None
    except sa.exc.SQLAlchemyError as exc:
        raise DataError(
            f"score source: the query on {redact_url(url)} failed ({type(exc).__name__})"
        ) from None
    finally:
        engine.dispose()


def read_range(
    url: str, sql: str, order: tuple[str, ...], start: int, rows: int, chunk_rows: int
) -> Iterator[pd.DataFrame]:
    """Rows ``start`` to ``start + rows`` of the ordered source, ``chunk_rows`` at a time (streamed)."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            quote = conn.dialect.identifier_preparer.quote
            ordering = ", ".join(quote(c) for c in order)
            ranged = sa.text(f"SELECT * FROM ({sql}) AS q ORDER BY {ordering} LIMIT :n OFFSET :o")
            streaming = conn.execution_options(stream_results=True, max_row_buffer=chunk_rows)
            result = streaming.execute(ranged, {"n": rows, "o": start})
            try:
                columns = list(result.keys())
                while batch := result.fetchmany(chunk_rows):
                    yield pd.DataFrame.from_records(batch, columns=columns, coerce_float=True)
            finally:
                result.close()
    except sa.exc.OperationalError as exc:
        raise connect_error("score source url", url, exc) from None
    finally:
        engine.dispose()


def done_table(table: str) -> str:
    return f"{table}_done"


def rejects_table(table: str) -> str:
    return f"{table}_rejects"
