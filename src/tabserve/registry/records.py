"""What the registry stores about a version and a training job, and the views the CLI and API show."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from dataclasses import fields as dataclass_fields
from typing import TYPE_CHECKING, Any

from tabserve.errors import NotAcceptedError
from tabserve.timefmt import iso_utc

if TYPE_CHECKING:  # the CLI's quick commands read SQLite without SQLAlchemy (sqlite_direct.py)
    import sqlalchemy as sa

PRODUCTION = "production"
MAX_VERSION = 2_147_483_647  # the registries store versions as 32-bit signed integers

# What a history row records as the move: the alias set to a version, moved back, or taken away.
PROMOTE, ROLLBACK, REMOVE = "promote", "rollback", "remove"
MAX_REASON_CHARS = 500  # what a caller may write; promotion adds the gates it overrode
MAX_RECORDED_CHARS = 2000
ACTOR_PATTERN = r"^[a-z][a-z0-9_-]{0,31}$"  # train, register, import, cli, http, console, canary, abort...

# What a version says about itself (not where its files are kept): copied as-is when a
# version moves between registries (models export, register DIR) or is registered again.
DESCRIBING_FIELDS = (
    "estimator",
    "params",
    "metrics",
    "cv_results",
    "feature_schema",
    "data_rows",
    "data_hash",
    "libraries",
    "config",
)

# What a classifier version answers; a version stored before outputs were recorded answers both.
CLASSIFIER_OUTPUTS = ("labels", "probabilities")
NO_PROBABILITIES = "not available (estimator has no predict_proba)"

# Columns holding JSON text; a record holds them decoded.
JSON_COLUMNS = ("params", "metrics", "cv_results", "feature_schema", "libraries", "config", "artifacts")


@dataclass(frozen=True)
class VersionRecord:
    """One registered model version, as stored."""

    model: str
    version: int
    created_at: float
    estimator: str
    params: dict[str, Any]
    metrics: dict[str, Any]
    cv_results: list[dict[str, Any]]
    feature_schema: dict[str, Any]
    data_rows: int
    data_hash: str
    libraries: dict[str, str]
    config: dict[str, Any]
    artifacts: dict[str, dict[str, str]]
    sha256: str
    aliases: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """The fields a listing shows."""
        return {
            "model": self.model,
            "version": self.version,
            "created_at": iso_utc(self.created_at),
            "estimator": self.estimator,
            "task": self.task,
            "params": self.params,
            "cv_score": self.metrics.get("cv_score"),
            "accuracy": self.metrics.get("accuracy"),
            "f1_macro": self.metrics.get("f1_macro"),
            **(
                {"rmse": self.metrics.get("rmse"), "r2": self.metrics.get("r2")} if self.is_regression else {}
            ),
            "aliases": self.aliases,
        }

    def detail(self) -> dict[str, Any]:
        """Everything a version records, for `models show` and GET /models/{version}."""
        return {
            **self.summary(),
            "metrics": self.metrics,
            "cv_results": self.cv_results,
            "feature_schema": self.feature_schema,
            "data_rows": self.data_rows,
            "data_hash": self.data_hash,
            "libraries": self.libraries,
            "sha256": self.sha256,
            "description": self.description,
            "outputs": self.outputs,
            "probabilities": "available" if "probabilities" in self.outputs else NO_PROBABILITIES,
        }

    @property
    def outputs(self) -> list[str]:
        """What this version answers (``labels``, ``probabilities``, ...), as recorded when it was stored."""
        recorded = self.metrics.get("outputs")
        return list(recorded) if isinstance(recorded, list) else list(CLASSIFIER_OUTPUTS)

    @property
    def task(self) -> str:
        """classification or regression, kept in the feature schema (older versions: classification)."""
        return str(self.feature_schema.get("task") or "classification")

    @property
    def is_regression(self) -> bool:
        return self.task == "regression"

    @property
    def description(self) -> str | None:
        """The line given to ``tabserve.register`` / ``tabserve register --description``, if any."""
        registered = self.config.get("registered")
        text = registered.get("description") if isinstance(registered, dict) else None
        return text if isinstance(text, str) else None


@dataclass(frozen=True)
class JobRecord:
    """One job (training, or scoring a table): its progress, outcome and the process that runs it.

    A training job counts fits in ``done``/``total`` and records the version it
    made; a scoring job counts partitions, rows ``scored`` and ``rejected``, and
    records the version it scores with.
    """

    id: str
    model: str
    status: str
    done: int
    total: int
    version: int | None
    error: str | None
    overrides: dict[str, Any]
    created_at: float
    started_at: float | None
    finished_at: float | None
    heartbeat_at: float | None
    host: str | None
    pid: int | None
    kind: str = "train"  # train | score
    scored: int | None = None
    rejected: int | None = None


@dataclass(frozen=True)
class AliasMove:
    """One move of an alias, as the history records it (newest first when listed)."""

    id: int
    model: str
    alias: str
    action: str
    version: int
    previous_version: int | None
    actor: str
    forced: bool
    reason: str
    at: float

    def to_dict(self) -> dict[str, Any]:
        """The move for JSON (GET /models/{name}/history, `models history --json`): ``to_version`` is
        null when the alias was removed."""
        return {
            "id": self.id,
            "model": self.model,
            "alias": self.alias,
            "action": self.action,
            "from_version": self.previous_version,
            "to_version": None if self.action == REMOVE else self.version,
            "actor": self.actor,
            "forced": self.forced,
            "reason": self.reason,
            "at": iso_utc(self.at),
        }


def move_from_values(values: Mapping[str, Any]) -> AliasMove:
    """A history row (column -> value) as a move; rows from before migration 4 read as 'unknown'."""
    return AliasMove(
        id=int(values["id"]),
        model=values["model"],
        alias=values["alias"],
        action=values["action"] or PROMOTE,
        version=int(values["version"]),
        previous_version=values["previous_version"],
        actor=values["actor"] or "unknown",
        forced=bool(values["forced"]),
        reason=values["reason"] or "",
        at=float(values["at"]),
    )


HISTORY_COLUMNS = tuple(f.name for f in dataclass_fields(AliasMove))


def one_line(text: str) -> str:
    """Text as one line of printable characters (PostgreSQL refuses NUL in text, a table a newline)."""
    return "".join(ch for ch in " ".join(text.split()) if ch.isprintable())


def checked_reason(reason: str) -> str:
    """A caller's reason for a move on one line, refused when longer than ``MAX_REASON_CHARS``."""
    reason = one_line(reason)
    if len(reason) > MAX_REASON_CHARS:
        raise NotAcceptedError(f"reason: at most {MAX_REASON_CHARS} characters (got {len(reason)})")
    return reason


def checked_note(actor: str, reason: str) -> str:
    """The reason to record for a move (one line, cut at ``MAX_RECORDED_CHARS``), once the actor's
    name is checked."""
    if not re.match(ACTOR_PATTERN, actor):
        raise NotAcceptedError(f"actor {actor!r}: a short lowercase word (train, cli, http, ...)")
    reason = one_line(reason)
    if len(reason) > MAX_RECORDED_CHARS:
        reason = reason[: MAX_RECORDED_CHARS - 3] + "..."
    return reason


def version_row(fields: dict[str, Any]) -> dict[str, Any]:
    """A version's fields as column values: the JSON columns encoded."""
    return {k: json.dumps(v) if k in JSON_COLUMNS else v for k, v in fields.items()}


def version_from_row(row: sa.Row, aliases: list[str]) -> VersionRecord:
    return version_from_values(row._mapping, aliases)


def version_from_values(columns: Mapping[str, Any], aliases: list[str]) -> VersionRecord:
    """A record from a versions row given as column -> value, the JSON columns still text."""
    values = dict(columns)
    for column in JSON_COLUMNS:
        values[column] = json.loads(values[column])
    return VersionRecord(**values, aliases=aliases)


def job_from_row(row: sa.Row) -> JobRecord:
    values = dict(row._mapping)
    values["overrides"] = json.loads(values["overrides"])
    return JobRecord(**values)
