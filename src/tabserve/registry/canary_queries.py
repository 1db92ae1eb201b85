"""Canary releases in the registry database: start, read, end, and the record of past ones.

The registry is where every replica reads a model's canary, as it reads the
``production`` alias: a row is open (``ended_at`` null) while its canary runs and
is kept afterwards with how it ended (promoted, stopped, aborted) and why.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from tabserve.errors import ConflictError
from tabserve.registry import tables as t
from tabserve.registry.connection import RegistryConnection
from tabserve.timefmt import iso_utc

OUTCOMES = ("promoted", "stopped", "aborted")


@dataclass(frozen=True)
class CanaryRecord:
    """One canary release of a model: which version, what share of traffic, and how it ended."""

    id: int
    model: str
    version: int
    weight: int
    started_at: float
    actor: str
    ended_at: float | None = None
    outcome: str | None = None
    reason: str | None = None

    @property
    def active(self) -> bool:
        return self.ended_at is None

    def summary(self) -> dict[str, Any]:
        """The fields an answer shows, with ISO 8601 times."""
        return {
            "version": self.version,
            "weight": self.weight,
            "started_at": iso_utc(self.started_at),
            "actor": self.actor,
            "ended_at": None if self.ended_at is None else iso_utc(self.ended_at),
            "outcome": self.outcome,
            "reason": self.reason,
        }


def _record(row: Any) -> CanaryRecord:
    return CanaryRecord(**dict(row._mapping))


class CanaryQueries(RegistryConnection):
    """The canary table."""

    def _open_canary(self, conn: sa.Connection, model: str) -> CanaryRecord | None:
        row = conn.execute(
            sa.select(t.canaries)
            .where(t.canaries.c.model == model, t.canaries.c.ended_at.is_(None))
            .order_by(t.canaries.c.id.desc())
            .limit(1)
        ).first()
        return None if row is None else _record(row)

    def active_canary(self, model: str) -> CanaryRecord | None:
        """The model's running canary, or None."""
        with self._begin() as conn:
            return self._open_canary(conn, model)

    def start_canary(self, model: str, version: int, weight: int, actor: str = "cli") -> CanaryRecord:
        """Open a canary of ``version`` at ``weight`` percent; a running canary of the same version only
        changes its weight, one of another version is a ConflictError (end it first)."""
        with self._begin() as conn:
            current = self._open_canary(conn, model)
            if current is not None and current.version != version:
                raise ConflictError(
                    f"model '{model}' already has a canary of version {current.version}; "
                    "promote or stop it first"
                )
            if current is not None:
                conn.execute(sa.update(t.canaries).where(t.canaries.c.id == current.id).values(weight=weight))
            else:
                conn.execute(
                    sa.insert(t.canaries).values(
                        model=model, version=version, weight=weight, started_at=time.time(), actor=actor[:50]
                    )
                )
            found = self._open_canary(conn, model)
        assert found is not None
        return found

    def end_canary(
        self, model: str, outcome: str, reason: str, version: int | None = None
    ) -> CanaryRecord | None:
        """Close the model's running canary (only if it is of ``version``, when given); the closed
        record, or None when there was none to close."""
        if outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {', '.join(OUTCOMES)}, got {outcome!r}")
        with self._begin() as conn:
            current = self._open_canary(conn, model)
            if current is None or (version is not None and current.version != version):
                return None
            ended = time.time()
            conn.execute(
                sa.update(t.canaries)
                .where(t.canaries.c.id == current.id, t.canaries.c.ended_at.is_(None))
                .values(ended_at=ended, outcome=outcome, reason=reason[:2000])
            )
            return self._canary_by_id(conn, current.id)

    def _canary_by_id(self, conn: sa.Connection, canary_id: int) -> CanaryRecord:
        row = conn.execute(sa.select(t.canaries).where(t.canaries.c.id == canary_id)).one()
        return _record(row)

    def canary_history(self, model: str, limit: int = 20) -> list[CanaryRecord]:
        """The model's canaries, newest first."""
        with self._begin() as conn:
            rows = conn.execute(
                sa.select(t.canaries)
                .where(t.canaries.c.model == model)
                .order_by(t.canaries.c.id.desc())
                .limit(limit)
            ).all()
        return [_record(row) for row in rows]
