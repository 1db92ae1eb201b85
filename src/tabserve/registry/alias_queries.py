"""Alias moves in the registry database: promote, roll back, remove, and the history of every move.

Each move changes the alias row and writes its history row in one transaction, so the history
never misses a move nor records one that did not happen. The active history rows of an alias are
the stack a rollback walks back; rollbacks and removals are recorded as inactive rows.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import sqlalchemy as sa

from tabserve.errors import ConflictError, NotFoundError
from tabserve.registry import tables as t
from tabserve.registry.connection import RegistryConnection
from tabserve.registry.records import (
    PRODUCTION,
    PROMOTE,
    REMOVE,
    ROLLBACK,
    AliasMove,
    checked_note,
    move_from_values,
)

DEFAULT_HISTORY_LIMIT = 50


class AliasQueries(RegistryConnection):
    """The alias and alias-history tables."""

    def set_alias(
        self,
        model: str,
        version: int,
        alias: str = PRODUCTION,
        *,
        actor: str = "unknown",
        reason: str = "",
        forced: bool = False,
    ) -> None:
        """Point ``alias`` at ``version`` and record the move (who, why, forced), in one transaction.

        Two first promotions racing may both find no alias row and both insert;
        the loser's transaction fails on the primary key and is simply run again,
        now as an update.
        """
        reason = checked_note(actor, reason)
        for attempt in range(2):
            try:
                self._set_alias_once(model, version, alias, actor, reason, forced)
                return
            except sa.exc.IntegrityError:
                if attempt:
                    raise

    def _set_alias_once(
        self, model: str, version: int, alias: str, actor: str, reason: str, forced: bool
    ) -> None:
        now = time.time()
        with self._begin() as conn:
            exists = conn.execute(
                sa.select(t.versions.c.version).where(
                    t.versions.c.model == model, t.versions.c.version == version
                )
            ).first()
            if exists is None:
                raise NotFoundError(f"model '{model}' has no version {version}")
            previous = self._write_alias(conn, model, alias, version, now)
            conn.execute(
                sa.insert(t.alias_history).values(
                    model=model,
                    alias=alias,
                    version=version,
                    active=True,
                    at=now,
                    action=PROMOTE,
                    previous_version=previous,
                    actor=actor,
                    forced=forced,
                    reason=reason,
                )
            )

    def _write_alias(
        self, conn: sa.Connection, model: str, alias: str, version: int, now: float
    ) -> int | None:
        """Point the alias row at ``version``; the version it pointed at before (None: no row)."""
        where = (t.aliases.c.model == model, t.aliases.c.alias == alias)
        previous = conn.execute(sa.select(t.aliases.c.version).where(*where)).scalar()
        if previous is None:
            conn.execute(
                sa.insert(t.aliases).values(model=model, alias=alias, version=version, updated_at=now)
            )
        else:
            conn.execute(sa.update(t.aliases).where(*where).values(version=version, updated_at=now))
        return previous

    def rollback_target(self, model: str, alias: str = PRODUCTION) -> int:
        """The version a rollback of ``alias`` would move it to (NotFoundError if there is none)."""
        with self._begin() as conn:
            return self._rollback_pair(conn, model, alias)[1].version

    def _rollback_pair(self, conn: sa.Connection, model: str, alias: str) -> Sequence[sa.Row]:
        active = conn.execute(
            sa.select(t.alias_history.c.id, t.alias_history.c.version)
            .where(
                t.alias_history.c.model == model,
                t.alias_history.c.alias == alias,
                t.alias_history.c.active.is_(True),
            )
            .order_by(t.alias_history.c.id.desc())
            .limit(2)
        ).all()
        if len(active) < 2:
            raise NotFoundError(f"model '{model}': no earlier '{alias}' version to roll back to")
        return active

    def rollback_alias(
        self,
        model: str,
        alias: str = PRODUCTION,
        expected: int | None = None,
        *,
        actor: str = "unknown",
        reason: str = "",
        forced: bool = False,
    ) -> int:
        """Move ``alias`` back to the version it pointed at before the newest promotion, recorded.

        ``expected`` is the target the caller checked (``rollback_target``): if a
        promotion moved the history in between, ConflictError instead of moving
        the alias to a version nobody checked.
        """
        reason = checked_note(actor, reason)
        now = time.time()
        with self._begin() as conn:
            current, previous = self._rollback_pair(conn, model, alias)
            if expected is not None and previous.version != expected:
                raise ConflictError(
                    f"model '{model}': the '{alias}' alias moved while rolling back; try again"
                )
            conn.execute(
                sa.update(t.alias_history).where(t.alias_history.c.id == current.id).values(active=False)
            )
            was = self._write_alias(conn, model, alias, previous.version, now)
            conn.execute(
                sa.insert(t.alias_history).values(
                    model=model,
                    alias=alias,
                    version=previous.version,
                    active=False,
                    at=now,
                    action=ROLLBACK,
                    previous_version=was,
                    actor=actor,
                    forced=forced,
                    reason=reason,
                )
            )
        return previous.version

    def remove_alias(self, model: str, alias: str, *, actor: str = "unknown", reason: str = "") -> int | None:
        """Take ``alias`` away (a canary ended), recorded; the version it pointed at (None: it was not set).

        Its rollback stack goes with it: an alias set again later starts a new one.
        """
        reason = checked_note(actor, reason)
        now = time.time()
        h = t.alias_history
        with self._begin() as conn:
            where = (t.aliases.c.model == model, t.aliases.c.alias == alias)
            was = conn.execute(sa.select(t.aliases.c.version).where(*where)).scalar()
            if was is None:
                return None
            conn.execute(sa.delete(t.aliases).where(*where))
            stack = (h.c.model == model, h.c.alias == alias, h.c.active.is_(True))
            conn.execute(sa.update(h).where(*stack).values(active=False))
            conn.execute(
                sa.insert(h).values(
                    model=model,
                    alias=alias,
                    version=was,
                    active=False,
                    at=now,
                    action=REMOVE,
                    previous_version=was,
                    actor=actor,
                    forced=False,
                    reason=reason,
                )
            )
        return was

    def alias_history(
        self,
        model: str,
        *,
        alias: str | None = None,
        limit: int = DEFAULT_HISTORY_LIMIT,
        before: int | None = None,
    ) -> list[AliasMove]:
        """The model's alias moves, newest first: at most ``limit``, those older than move ``before``
        (an ``id``: the next page), of one ``alias`` or of all."""
        h = t.alias_history
        query = sa.select(h).where(h.c.model == model)
        if alias is not None:
            query = query.where(h.c.alias == alias)
        if before is not None:
            query = query.where(h.c.id < before)
        with self._begin() as conn:
            rows = conn.execute(query.order_by(h.c.id.desc()).limit(limit)).all()
        return [move_from_values(row._mapping) for row in rows]

    def promoted_since(self, model: str, version: int, since: float) -> bool:
        """Whether ``version`` was made production at or after ``since`` (did a training promote it?)."""
        h = t.alias_history
        with self._begin() as conn:
            found = conn.execute(
                sa.select(h.c.id)
                .where(
                    h.c.model == model,
                    h.c.alias == PRODUCTION,
                    h.c.version == version,
                    h.c.action == PROMOTE,
                    h.c.at >= since,
                )
                .limit(1)
            ).first()
        return found is not None
