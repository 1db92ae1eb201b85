"""Answers in a SQL table: a partition's rows, its rejects and its done row in one transaction.

``<table>_done`` lists finished partitions and ``<table>_rejects`` holds the
rejected rows. The tables are created before any partition runs, so Dask
workers writing at once never race to create them.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import pandas as pd
import sqlalchemy as sa

from tabserve.errors import DataError
from tabserve.scoring.answer_columns import Answers
from tabserve.scoring.sql_io import done_table, rejects_table
from tabserve.sql import check_table_name, connect_error, make_engine
from tabserve.urls import redact_url

log = logging.getLogger(__name__)


def _split(table: str) -> tuple[str | None, str]:
    schema, _, name = check_table_name(table).rpartition(".")
    return schema or None, name


class SqlSink:
    def __init__(self, url: str, table: str) -> None:
        self.url = url
        self.table = table
        self.schema, self.name = _split(table)
        self.done = done_table(self.name)
        self.rejects = rejects_table(self.name)

    def _engine(self) -> sa.Engine:
        return make_engine(self.url)

    def _done_table(self, metadata: sa.MetaData) -> sa.Table:
        return sa.Table(
            self.done,
            metadata,
            sa.Column("partition", sa.String(200), primary_key=True),
            sa.Column("marker", sa.Text, nullable=False),
            schema=self.schema,
        )

    def finished(self) -> dict[str, dict[str, Any]]:
        engine = self._engine()
        try:
            with engine.connect() as conn:
                if not sa.inspect(conn).has_table(self.done, schema=self.schema):
                    return {}
                table = self._done_table(sa.MetaData())
                return {row.partition: json.loads(row.marker) for row in conn.execute(sa.select(table))}
        except sa.exc.OperationalError as exc:
            raise connect_error("score.sink.url", self.url, exc) from None
        finally:
            engine.dispose()

    def prepare(self, sample: pd.DataFrame | None = None, rejects: pd.DataFrame | None = None) -> None:
        """Create the answers, rejects and done tables (empty) if they are not there yet."""
        assert sample is not None and rejects is not None, "a SQL sink is prepared from sample answers"
        engine = self._engine()
        try:
            with engine.begin() as conn:
                inspector = sa.inspect(conn)
                for name, frame in ((self.name, sample), (self.rejects, rejects)):
                    if not inspector.has_table(name, schema=self.schema):
                        frame.head(0).to_sql(name, conn, schema=self.schema, index=False, dtype=_types(frame))
                metadata = sa.MetaData()
                self._done_table(metadata)
                metadata.create_all(conn)
        except sa.exc.OperationalError as exc:
            raise connect_error("score.sink.url", self.url, exc) from None
        except sa.exc.SQLAlchemyError as exc:
            raise DataError(
                f"score.sink: cannot create '{self.table}' in {redact_url(self.url)} ({type(exc).__name__})"
            ) from None
        finally:
            engine.dispose()

    def part(self, partition_id: str) -> _SqlPart:
        return _SqlPart(self, partition_id)


def _types(frame: pd.DataFrame) -> dict[str, sa.types.TypeEngine]:
    types: dict[str, sa.types.TypeEngine] = {}
    for column in frame.columns:
        if pd.api.types.is_float_dtype(frame[column]):
            types[column] = sa.Double()
        elif frame[column].dtype == object or isinstance(frame[column].dtype, pd.CategoricalDtype):
            types[column] = sa.Text() if column == "reason" else sa.String(255)
    return types


class _SqlPart:
    """One open transaction: nothing of the partition is visible until commit writes its done row."""

    def __init__(self, sink: SqlSink, partition_id: str) -> None:
        self.sink = sink
        self.id = partition_id
        self.engine = sink._engine()
        self.conn = self.engine.connect()
        self.transaction = self.conn.begin()

    def write(self, answers: Answers, rejects: pd.DataFrame) -> None:
        sink = self.sink
        try:
            for name, frame in ((sink.name, answers.frame()), (sink.rejects, rejects)):
                if len(frame):
                    frame.to_sql(
                        name,
                        self.conn,
                        schema=sink.schema,
                        if_exists="append",
                        index=False,
                        method="multi",
                        chunksize=max(1, 30_000 // max(1, len(frame.columns))),
                    )
        except sa.exc.SQLAlchemyError as exc:
            self.abort()
            raise DataError(
                f"score.sink: writing to '{sink.table}' in {redact_url(sink.url)} failed "
                f"({type(exc).__name__})"
            ) from None

    def commit(self, marker: dict[str, Any]) -> None:
        table = self.sink._done_table(sa.MetaData())
        try:
            self.conn.execute(
                sa.insert(table).values(partition=self.id, marker=json.dumps(marker, sort_keys=True))
            )
            self.transaction.commit()
        finally:
            self.conn.close()
            self.engine.dispose()

    def abort(self) -> None:
        try:
            if self.transaction.is_active:
                self.transaction.rollback()
        finally:
            self.conn.close()
            self.engine.dispose()
