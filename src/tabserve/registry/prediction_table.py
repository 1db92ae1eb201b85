"""The prediction log's table in the registry database (migration 2).

A table beside the versions rather than Parquet files in the artifact store:
every replica appends small batches all the time, and a database takes
concurrent appends, deletes by age and "since T" reads natively, where an
object store would need a file per batch and a compaction job. The registry
database is already the one place every replica writes to.

A row is one chunk: the calls one replica answered with one version during one
flush (a fraction of a second), as JSON. One insert per chunk rather than per
predicted row keeps logging cheap enough to leave on at full traffic; the
export unpacks chunks into rows.
"""

from __future__ import annotations

import sqlalchemy as sa

from tabserve.registry.column_types import LongText, Name

metadata = sa.MetaData()

# ``payload``: {"names": [...], "classes": [...], "calls": [[at, request_id, rows, indices,
# probabilities or null], ...]}; ``rows`` is a list of rows (values in ``names`` order, null for missing).
predictions = sa.Table(
    "tabserve_prediction_log",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("model", Name, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("first_at", sa.Double, nullable=False),
    sa.Column("last_at", sa.Double, nullable=False),
    sa.Column("rows", sa.Integer, nullable=False),
    sa.Column("payload", LongText, nullable=False),
    sa.Index("ix_tabserve_prediction_log_model_last_at", "model", "last_at"),
    sa.Index("ix_tabserve_prediction_log_last_at", "last_at"),
)


def create(conn: sa.Connection) -> None:
    """Migration 2: the prediction log (safe to repeat, as MySQL commits DDL at once)."""
    predictions.create(conn, checkfirst=True)
