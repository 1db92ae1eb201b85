"""The ground-truth table in the registry database (migration 3).

One row per labelled prediction: the actual outcome a user sent back, stored
beside what the model predicted for that row (found in the prediction log when
the feedback arrived), the version that answered and when. Keeping the pair
here, not only a pointer into the log, lets realised performance outlive the
log's retention and be computed by one query per model.
"""

from __future__ import annotations

import sqlalchemy as sa

from tabserve.registry.column_types import Name

metadata = sa.MetaData()

ID_CHARS = 64

feedback = sa.Table(
    "tabserve_feedback",
    metadata,
    sa.Column("model", Name, primary_key=True),
    sa.Column("prediction_id", sa.String(ID_CHARS), primary_key=True),  # a record arriving twice counts once
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("predicted_at", sa.Double, nullable=False),
    sa.Column("received_at", sa.Double, nullable=False),
    sa.Column("predicted_label", sa.Text, nullable=True),  # classification
    sa.Column("actual_label", sa.Text, nullable=True),
    sa.Column("predicted_value", sa.Double, nullable=True),  # regression
    sa.Column("actual_value", sa.Double, nullable=True),
    sa.Index("ix_tabserve_feedback_model_predicted_at", "model", "predicted_at"),
)


def create(conn: sa.Connection) -> None:
    """Migration 3: the ground-truth table (safe to repeat, as MySQL commits DDL at once)."""
    feedback.create(conn, checkfirst=True)
