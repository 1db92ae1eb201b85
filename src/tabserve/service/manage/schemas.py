"""Response models of the JSON routes other than predict: they document /openapi.json."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

ISO_UTC = "ISO 8601 time in UTC, e.g. 2026-11-29T04:03:00.412Z."


class VersionSummary(BaseModel):
    model: str
    version: int
    created_at: str = Field(description=ISO_UTC)
    estimator: str = Field(description="Dotted name of the best estimator.")
    task: str = Field("classification", description="classification or regression.")
    params: dict[str, Any]
    cv_score: float | None = None
    accuracy: float | None = Field(None, description="Hold-out accuracy (classification).")
    f1_macro: float | None = Field(None, description="Hold-out macro F1 (classification).")
    rmse: float | None = Field(None, description="Hold-out root mean squared error (regression).")
    r2: float | None = Field(None, description="Hold-out R² (regression).")
    aliases: list[str]


class ServedModel(BaseModel):
    name: str
    serving_version: int | None = Field(description="The production version this process answers with now.")
    url: str = Field(description="Where its versions are listed.")


class ModelList(BaseModel):
    default: str = Field(description="The model POST /predict answers with.")
    models: list[ServedModel]


class ModelVersions(BaseModel):
    model: str
    serving_version: int | None = Field(description="The version this server process answers with.")
    versions: list[VersionSummary]


class VersionDetail(VersionSummary):
    metrics: dict[str, Any]
    cv_results: list[dict[str, Any]] = Field(description="The grid search's CV table.")
    feature_schema: dict[str, Any]
    data_rows: int
    data_hash: str
    libraries: dict[str, str]
    sha256: str = Field(description="sha256 of the model file, checked before every load.")
    description: str | None = Field(None, description="What the version is, as given at registration.")


class AliasMove(BaseModel):
    model: str
    alias: str
    version: int


class HistoryEntry(BaseModel):
    id: int = Field(description="The move's number: pass it as `before` for older moves.")
    model: str
    alias: str
    action: str = Field(description="promote, rollback or remove.")
    from_version: int | None = Field(
        description="Where the alias pointed before (null: nowhere, or unknown)."
    )
    to_version: int | None = Field(description="Where it points after (null: the alias was removed).")
    actor: str = Field(description="Who moved it: train, register, import, cli, http, console, python, ...")
    forced: bool = Field(description="Whether a refusing promotion gate was overridden.")
    reason: str = Field(description="Why, as given (and the gates a forced move went past).")
    at: str = Field(description=ISO_UTC)


class History(BaseModel):
    model: str
    moves: list[HistoryEntry] = Field(description="Newest first.")
    next: str | None = Field(description="The next (older) page, or null.")


class JobProgress(BaseModel):
    done: int = Field(description="Fits finished.")
    total: int = Field(description="Fits in the grid search (0 until it starts).")


class Job(BaseModel):
    id: str
    model: str
    status: str = Field(description="queued, running, succeeded or failed.")
    progress: JobProgress
    version: int | None = Field(description="The version made, once succeeded.")
    error: str | None
    overrides: dict[str, Any]
    created_at: str = Field(description=ISO_UTC)
    started_at: str | None = Field(description=ISO_UTC)
    finished_at: str | None = Field(description=ISO_UTC)
    url: str


class JobList(BaseModel):
    jobs: list[Job] = Field(description="The newest jobs of the served models first.")


class TrainAccepted(BaseModel):
    id: str
    status: str
    url: str = Field(description="Where to follow the job.")


class Health(BaseModel):
    status: str


class Ready(BaseModel):
    status: str
    model: str = Field(description="The default model.")
    version: int = Field(description="The default model's production version.")
    models: dict[str, int] = Field(description="Every served model's production version.")
    degraded: dict[str, str] | None = Field(
        None,
        description="Status 'degraded': models whose production alias points at a version that cannot be "
        "loaded, with the reason; the version shown is the one still served.",
    )
