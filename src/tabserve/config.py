"""Settings: the one config file that drives training, the registry and the server.

A file (YAML, or JSON, which YAML reads too) is merged with environment
overrides named ``TABSERVE_<SECTION>__<KEY>`` and validated once, here, so a
bad value fails before any work, naming where it came from.

Where the raw values come from (the file, the environment) is config_sources.py;
this module holds the schema, one pydantic tree whose field descriptions are the
README's reference table, and the validation that names a bad value's origin.

Size: the schema is one tree on purpose (its sections and their validators read
as the reference they are); splitting sections apart would spread it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from tabserve.config_paths import resolve_config_paths
from tabserve.config_promotion import PromotionSettings
from tabserve.config_sources import ENV_PREFIX, env_overrides, read_config_file, set_path, stray_variables
from tabserve.errors import ConfigError

log = logging.getLogger(__name__)
MODEL_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$"
ALLOWED_ESTIMATOR_PACKAGES = ("sklearn.", "xgboost.", "lightgbm.")
DEFAULT_SCORING = "accuracy"
DEFAULT_TEST_PER_CLASS = 5
# Regression holds out a fraction; this one when the config keeps the per-class default.
DEFAULT_REGRESSION_FRACTION = 0.2


class _Section(BaseModel):
    """Unknown keys are errors: a typo must not silently fall back to a default.

    Numbers are taken for text fields (a YAML or env value ``12345`` for a token or
    a model name means the string), since YAML reads them as numbers first.
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True, coerce_numbers_to_str=True)


class DataSettings(_Section):
    source: Literal["iris", "csv", "sql"] = Field("iris", description="Where rows come from.")
    path: str | None = Field(None, description="csv: a file path or an http(s) URL.")
    url: str | None = Field(None, description="sql: a SQLAlchemy URL.")
    table: str | None = Field(None, description="sql: a table name (or give query).")
    query: str | None = Field(None, description="sql: a SELECT (or give table).")
    target: str = Field("species", description="The label column.")
    features: list[str] | None = Field(None, description="Feature columns; null: all but target.")

    @model_validator(mode="after")
    def _source_needs_its_location(self) -> DataSettings:
        if self.source == "csv" and not self.path:
            raise ValueError("source 'csv' needs data.path (a file path or an http(s) URL)")
        if self.source == "sql":
            if not self.url:
                raise ValueError("source 'sql' needs data.url (a SQLAlchemy URL)")
            if bool(self.table) == bool(self.query):
                raise ValueError("source 'sql' needs exactly one of data.table or data.query")
        return self


class SplitSettings(_Section):
    test_per_class: int | None = Field(
        DEFAULT_TEST_PER_CLASS, ge=1, description="Hold out n rows of each class (classification only)."
    )
    test_fraction: float | None = Field(None, gt=0, lt=1, description="Or hold out this stratified fraction.")
    random_state: int = Field(0, description="Seed for the split and the CV shuffle.")

    @model_validator(mode="after")
    def _one_way_to_split(self) -> SplitSettings:
        if self.test_fraction is not None and "test_per_class" not in self.model_fields_set:
            # Giving a fraction replaces the default per-class count.
            object.__setattr__(self, "test_per_class", None)
        if (self.test_per_class is None) == (self.test_fraction is None):
            raise ValueError("give exactly one of split.test_per_class or split.test_fraction")
        return self


class SearchSettings(_Section):
    cv: int = Field(3, ge=2, description="Number of stratified, shuffled CV folds.")
    scoring: str = Field(
        DEFAULT_SCORING,
        description="A scikit-learn scorer name (regression's default: neg_root_mean_squared_error).",
    )
    n_jobs: int | None = Field(-1, description="Parallel fits; -1 uses every core.")
    backend: Literal["local", "dask"] = Field("local", description="Where the fits run.")
    dask_address: str | None = Field(None, description="dask: scheduler, tcp://host:port.")
    strategy: Literal["grid", "random", "halving"] = Field(
        "grid",
        description="grid: every combination; random: n_iter sampled candidates; halving: successive "
        "halving (random candidates when a grid has distributions, else every combination).",
    )
    n_iter: int = Field(
        20, ge=1, description="random: candidates sampled; halving: candidates sampled from distributions."
    )

    @model_validator(mode="after")
    def _dask_needs_address(self) -> SearchSettings:
        if self.backend == "dask" and not self.dask_address:
            raise ValueError("backend 'dask' needs search.dask_address (tcp://HOST:PORT)")
        return self


class Candidate(_Section):
    estimator: str = Field(
        description="Dotted path of a scikit-learn, XGBoost or LightGBM classifier or regressor (per task)."
    )
    grid: dict[str, list[Any] | dict[str, Any]] = Field(
        default_factory=dict,
        description="Parameter grid: a list of values, or (random/halving) a distribution such as "
        "{loguniform: [1e-3, 1e2]}, {uniform: [0, 1]} or {randint: [2, 12]}.",
    )

    @field_validator("grid")
    @classmethod
    def _numeric_bounds(cls, grid: dict[str, Any]) -> dict[str, Any]:
        """YAML reads ``1e-3`` (no dot) as text: a distribution's bounds written so are numbers."""
        return {
            name: _as_numbers(value) if isinstance(value, dict) else value for name, value in grid.items()
        }

    @field_validator("estimator")
    @classmethod
    def _allowed_package(cls, value: str) -> str:
        if not value.startswith(ALLOWED_ESTIMATOR_PACKAGES) or "." not in value:
            allowed = ", ".join(p.rstrip(".") for p in ALLOWED_ESTIMATOR_PACKAGES)
            raise ValueError(f"'{value}' is not in an allowed package ({allowed})")
        return value


DISTRIBUTIONS = ("loguniform", "uniform", "randint")


def _as_numbers(distribution: dict[str, Any]) -> dict[str, Any]:
    def number(bound: Any) -> Any:
        if isinstance(bound, str):
            try:
                return float(bound)
            except ValueError:
                return bound
        return bound

    return {
        kind: [number(b) for b in bounds] if isinstance(bounds, list) else bounds
        for kind, bounds in distribution.items()
    }


def distribution_problem(value: dict[str, Any]) -> str | None:
    """What is wrong with a grid value written as a distribution (``{randint: [2, 12]}``), or None."""
    if len(value) != 1:
        return f"a distribution is one of {', '.join(DISTRIBUTIONS)} with [low, high]"
    ((kind, bounds),) = value.items()
    if kind not in DISTRIBUTIONS:
        return f"unknown distribution {str(kind)[:40]!r} (use {', '.join(DISTRIBUTIONS)})"
    numbers = isinstance(bounds, list) and len(bounds) == 2
    numbers = numbers and all(isinstance(b, int | float) and not isinstance(b, bool) for b in bounds)
    if not numbers:
        return f"{kind} takes two numbers, [low, high]"
    low, high = bounds
    if kind == "randint" and not all(float(b).is_integer() for b in bounds):
        return "randint takes whole numbers, [low, high)"
    if not low < high:
        return f"{kind}: low must be below high"
    if kind == "loguniform" and low <= 0:
        return "loguniform: low must be above 0"
    return None


def _seed_candidates() -> list[Candidate]:
    """The default grid: the notebook's original search, so a bare `tabserve train` reproduces it."""
    return [
        Candidate(estimator="sklearn.linear_model.LogisticRegression", grid={"C": [0.5, 0.75, 1.0]}),
        Candidate(
            estimator="sklearn.tree.DecisionTreeClassifier",
            grid={"max_depth": [2, 3, None], "min_samples_leaf": [1, 2]},
        ),
        Candidate(estimator="sklearn.discriminant_analysis.LinearDiscriminantAnalysis"),
    ]


def default_regression_candidates() -> list[Candidate]:
    """A regression run's candidates when none are given: a linear model with a small grid, a random
    forest and a histogram gradient boosting (here, so the server can count them without scikit-learn)."""
    return [
        Candidate(estimator="sklearn.linear_model.Ridge", grid={"alpha": [0.1, 1.0, 10.0]}),
        Candidate(estimator="sklearn.ensemble.RandomForestRegressor", grid={"min_samples_leaf": [1, 5]}),
        Candidate(estimator="sklearn.ensemble.HistGradientBoostingRegressor", grid={"learning_rate": [0.1]}),
    ]


class ScoreSource(_Section):
    name: str | None = Field(
        None, pattern=MODEL_NAME, description="What POST /models/{name}/score calls this source."
    )
    source: Literal["csv", "parquet", "sql"] = Field(description="What the rows are stored as.")
    path: str | None = Field(
        None, description="csv/parquet: a file, a folder, a glob, or the same under s3://bucket/."
    )
    url: str | None = Field(None, description="sql: a SQLAlchemy URL.")
    table: str | None = Field(None, description="sql: a table name (or give query).")
    query: str | None = Field(None, description="sql: a SELECT (or give table).")

    @model_validator(mode="after")
    def _source_needs_its_location(self) -> ScoreSource:
        if self.source in ("csv", "parquet") and not self.path:
            raise ValueError(f"source '{self.source}' needs a path (file, folder, glob or s3:// URL)")
        if self.source == "sql":
            if not self.url:
                raise ValueError("source 'sql' needs url (a SQLAlchemy URL)")
            if bool(self.table) == bool(self.query):
                raise ValueError("source 'sql' needs exactly one of table or query")
        return self


class ScoreSink(_Section):
    name: str | None = Field(
        None, pattern=MODEL_NAME, description="What POST /models/{name}/score calls this sink."
    )
    format: Literal["csv", "parquet", "sql"] = Field("parquet", description="How the answers are written.")
    path: str | None = Field(None, description="csv/parquet: an output folder, local or s3://bucket/prefix.")
    url: str | None = Field(None, description="sql: a SQLAlchemy URL.")
    table: str | None = Field(None, description="sql: the table the answers go to.")

    @model_validator(mode="after")
    def _sink_needs_its_location(self) -> ScoreSink:
        if self.format in ("csv", "parquet") and not self.path:
            raise ValueError(f"sink format '{self.format}' needs a path (an output folder or s3:// prefix)")
        if self.format == "sql" and not (self.url and self.table):
            raise ValueError("sink format 'sql' needs url and table")
        return self


class ScoreSettings(_Section):
    sources: list[ScoreSource] = Field(default_factory=list, description="Tables `tabserve score` reads.")
    sink: ScoreSink | None = Field(None, description="Where `tabserve score` writes its answers.")
    sinks: list[ScoreSink] = Field(
        default_factory=list,
        description="More named sinks POST /models/{name}/score may write to (their rejects beside them).",
    )
    key_columns: list[str] = Field(default_factory=list, description="Input columns copied to each answer.")
    chunk_rows: int = Field(50_000, ge=1, description="Rows read, scored and written at a time.")
    sql_partition_rows: int = Field(
        1_000_000, ge=1, description="Rows of a SQL source in one resumable partition."
    )
    rejects: str | None = Field(
        None, description="Folder for rows that fail validation; null: beside the sink."
    )
    dask_address: str | None = Field(None, description="Score partitions on this Dask scheduler.")

    @model_validator(mode="after")
    def _names_are_unique(self) -> ScoreSettings:
        for key, entries in (("sources", self.sources), ("sinks", self.named_sinks())):
            names = [entry.name for entry in entries if entry.name is not None]
            twice = sorted({name for name in names if names.count(name) > 1})
            if twice:
                raise ValueError(f"{key}: the name {twice[0]!r} is given twice")
        unnamed = [i for i, sink in enumerate(self.sinks) if sink.name is None]
        if unnamed:
            raise ValueError(f"sinks.{unnamed[0]}: give it a name (requests choose a sink by name)")
        return self

    def named_sinks(self) -> list[ScoreSink]:
        """``sink`` (when set) and ``sinks``: every sink a request may choose by name."""
        return ([self.sink] if self.sink is not None else []) + list(self.sinks)


class RegistrySettings(_Section):
    url: str = Field("sqlite:///var/registry.db", description="SQLAlchemy URL of the metadata.")
    artifacts: str = Field("var/artifacts", description="A folder, or s3://bucket/prefix.")
    s3_endpoint_url: str | None = Field(None, description="MinIO or another S3 endpoint.")
    auto_promote: bool = Field(True, description="Promote a new version that scores as well.")
    allow_schema_change: bool = Field(
        False,
        description="Register a trained version whose columns, target or classes differ from the "
        "serving version's (otherwise training refuses it).",
    )
    trusted_types: list[str] = Field(
        default_factory=list,
        description="Your own classes (dotted names or module prefixes) a model file may hold.",
    )
    pictures: bool = Field(
        True,
        description="Draw the pairplot and confusion matrix when a version is stored and keep them "
        "with it, so a serving-only install shows them without plotting libraries.",
    )

    @field_validator("trusted_types")
    @classmethod
    def _safe_trusted_types(cls, value: list[str]) -> list[str]:
        from tabserve.trusted_types import check_entry

        return [check_entry(entry) for entry in value]


class ServerSettings(_Section):
    host: str = Field("127.0.0.1", description="Address to bind.")
    port: int = Field(5000, ge=0, le=65535, description="Port to bind.")
    workers: int = Field(1, ge=1, description="Server processes sharing the port.")
    token: str | None = Field(None, description="Bearer token for train, promote, rollback.")
    allow_unauthenticated: bool = Field(False, description="Allow a public bind with no token.")
    allowed_hosts: list[str] | None = Field(
        None,
        description="Host names answered ('*' any, '*.example.com' a domain); "
        "null: loopback names (and server.host) without a token, any with one.",
    )
    reload_interval_s: float = Field(2.0, gt=0, description="How often to check the alias.")
    grpc_port: int | None = Field(
        None, ge=0, le=65535, description="Port of the Open Inference Protocol over gRPC; null: no gRPC."
    )
    max_batch_rows: int = Field(10_000, ge=1, description="Most rows in one predict call.")
    micro_batching: bool = Field(
        True,
        description="Score concurrent single rows for a model without a pure-Python row path "
        "(trees, boosters) in one call, each answered as if alone.",
    )
    batch_wait_us: int = Field(
        0,
        ge=0,
        le=100_000,
        description="Microseconds a micro-batch waits for more rows before its call; 0: never waits.",
    )
    models: list[Annotated[str, Field(pattern=MODEL_NAME)]] | None = Field(
        None, description="Registry models this server serves; the first is the default. null: just `model`."
    )
    max_loaded_versions: int = Field(
        4,
        ge=0,
        description="Non-production versions kept loaded for version predicts (LRU).",
    )
    train_sources: list[DataSettings] = Field(
        default_factory=list,
        description="Data sources a POST /train body may pick (matched on source, path, url, table, query).",
    )
    max_train_fits: int = Field(
        1000, ge=1, description="Most grid-search fits a POST /train body may ask for."
    )
    job_timeout_s: float = Field(
        21600, gt=0, description="Longest a training job may run; then it is stopped and marked failed."
    )
    job_memory_mb: int | None = Field(
        None,
        ge=64,
        description="Address space of a training job's process (and of each worker it starts), in MB; "
        "null: no limit.",
    )
    max_connections: int = Field(1000, ge=1, description="Open connections per process; beyond: 503.")
    max_request_line_bytes: int = Field(8192, ge=256, description="Longest request line; beyond: 414.")
    max_header_bytes: int = Field(65536, ge=1024, description="Largest request line + headers; beyond: 431.")
    header_timeout_s: float = Field(10.0, gt=0, description="Time for a request's head to arrive; then 408.")
    body_timeout_s: float = Field(30.0, gt=0, description="Longest pause between body bytes; then 408.")
    body_deadline_s: float = Field(
        120.0, gt=0, description="Longest time for a whole request body to arrive; then 408."
    )
    model_configs: dict[Annotated[str, Field(pattern=MODEL_NAME)], str] = Field(
        default_factory=dict,
        description="A training config file per served model other than `model` (its data, split, search "
        "and candidates); a served model with none cannot be trained from this server.",
    )
    shadow: dict[Annotated[str, Field(pattern=MODEL_NAME)], Annotated[int, Field(ge=1)]] = Field(
        default_factory=dict,
        description="Candidate version per served model, scored beside production off the response path.",
    )

    @model_validator(mode="after")
    def _ports_differ(self) -> ServerSettings:
        if self.grpc_port and self.grpc_port == self.port:
            raise ValueError(f"server.grpc_port: {self.grpc_port} is server.port too; give gRPC its own port")
        return self


class MonitoringSettings(_Section):
    drift: bool = Field(True, description="Compare live rows with each version's training profile.")
    window_rows: int = Field(10_000, ge=100, description="Recent rows the drift figures cover.")
    drift_min_rows: int = Field(
        200,
        ge=1,
        description="Rows a version must have answered before drift gives a verdict (a few rows "
        "of the training data itself look drifted).",
    )
    log_predictions: float = Field(
        0.0, ge=0, le=1, description="Share of predict requests logged to the registry database (0: off)."
    )
    retention_days: float = Field(30, gt=0, description="Logged predictions older than this are deleted.")
    shadow_fraction: float = Field(
        1.0, ge=0, le=1, description="Share of predict requests a shadow version also scores."
    )
    queue_rows: int = Field(
        100_000, ge=1, description="Rows waiting for drift, log or shadow; beyond it rows are dropped."
    )
    performance_windows: dict[
        Annotated[str, Field(pattern=r"^[a-z0-9_]{1,20}$")], Annotated[float, Field(gt=0)]
    ] = Field(
        default_factory=lambda: {"hour": 3600.0, "day": 86400.0},
        description="Named windows (seconds) realised performance is grouped by: "
        "GET /models/{name}/performance?window=NAME; the first is the default.",
        min_length=1,
    )
    performance_days: float = Field(
        7, gt=0, description="How far back realised performance (the route and its gauges) looks."
    )

    @model_validator(mode="after")
    def _verdict_reachable(self) -> MonitoringSettings:
        if self.drift_min_rows > self.window_rows:
            raise ValueError(
                f"monitoring.drift_min_rows ({self.drift_min_rows}) is more than the drift window holds "
                f"(monitoring.window_rows: {self.window_rows}), so there would never be a verdict"
            )
        return self


class CanarySettings(_Section):
    max_error_rate: float = Field(
        0.05, ge=0, le=1, description="End a canary whose recent requests failed more often than this."
    )
    max_p99_ratio: float | None = Field(
        3.0,
        gt=1,
        description="End a canary whose p99 latency is above this many times production's (null: off).",
    )
    p99_slack_ms: float = Field(
        2.0,
        ge=0,
        description="The p99 rule also needs the candidate this many ms slower (sub-ms noise never aborts).",
    )
    min_requests: int = Field(
        50,
        ge=1,
        description="Requests a version must have answered before the error-rate and latency rules judge it.",
    )
    window_requests: int = Field(
        1000, ge=10, description="The recent requests per version that the rules and figures cover."
    )
    evaluate_every_s: float = Field(10.0, gt=0, description="How often each server judges its canaries.")
    max_accuracy_drop: float | None = Field(
        0.05,
        ge=0,
        le=1,
        description="End a classifier's canary whose realised accuracy since it began is more than this "
        "below production's over the same time (null: off).",
    )
    max_rmse_increase: float | None = Field(
        0.1,
        ge=0,
        description="End a regressor's canary whose realised RMSE since it began is above production's "
        "by more than this share of it (0.1: 10 % worse; null: off).",
    )
    min_labelled_rows: int = Field(
        200,
        ge=1,
        description="Labelled predictions (feedback) each version needs since the canary began before "
        "the realised-metric rule judges.",
    )

    @model_validator(mode="after")
    def _judgement_reachable(self) -> CanarySettings:
        if self.min_requests > self.window_requests:
            raise ValueError(
                f"canary.min_requests ({self.min_requests}) is more than the window holds "
                f"(canary.window_requests: {self.window_requests}), so no rule would ever judge"
            )
        return self


class LoggingSettings(_Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="Log level.")
    format: Literal["text", "json"] = Field("text", description="Plain lines or JSON lines.")
    file: str | None = Field("var/tabserve.log", description="Log file; null: stderr only.")

    @field_validator("level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value


class Settings(_Section):
    model: str = Field("iris", pattern=MODEL_NAME)
    task: Literal["auto", "classification", "regression"] = Field(
        "auto",
        description="auto: from the target (text/boolean: classification; floats: regression; "
        "integers: classification with at most 20 distinct values and 5% of the rows).",
    )
    data: DataSettings = Field(default_factory=DataSettings)
    split: SplitSettings = Field(default_factory=SplitSettings)
    search: SearchSettings = Field(default_factory=SearchSettings)
    candidates: list[Candidate] = Field(default_factory=_seed_candidates, min_length=1)
    registry: RegistrySettings = Field(default_factory=RegistrySettings)
    promotion: PromotionSettings = Field(default_factory=PromotionSettings)
    server: ServerSettings = Field(default_factory=ServerSettings)
    monitoring: MonitoringSettings = Field(default_factory=MonitoringSettings)
    canary: CanarySettings = Field(default_factory=CanarySettings)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)
    score: ScoreSettings = Field(default_factory=ScoreSettings)
    # The config file's folder, which its relative paths were resolved against
    # (None: no file). A POST /train body's data location is read the same way.
    _base_dir: str | None = PrivateAttr(None)

    @model_validator(mode="after")
    def _shadow_models_are_served(self) -> Settings:
        unknown = [name for name in self.server.shadow if name not in self.served_models()]
        if unknown:
            served = ", ".join(self.served_models())
            raise ValueError(f"server.shadow: {unknown[0]!r} is not a served model (served: {served})")
        return self

    @model_validator(mode="after")
    def _regression_splits_by_fraction(self) -> Settings:
        if self.task == "regression":
            try:
                check_regression_split(self.split)
            except ConfigError as exc:
                raise ValueError(str(exc)) from None  # reported with the file or variable it came from
        return self

    @model_validator(mode="after")
    def _distributions_fit_the_strategy(self) -> Settings:
        for index, candidate in enumerate(self.candidates):
            for name, value in candidate.grid.items():
                if not isinstance(value, dict):
                    continue
                where = f"candidates.{index}.grid.{name}"
                problem = distribution_problem(value)
                if problem:
                    raise ValueError(f"{where}: {problem}")
                if self.search.strategy == "grid":
                    raise ValueError(
                        f"{where}: a distribution needs search.strategy random or halving "
                        "(grid tries lists of values)"
                    )
        return self

    def uses_default_candidates(self) -> bool:
        """True when ``candidates`` is the built-in (classification) default: not given in the config."""
        return [c.model_dump() for c in self.candidates] == [c.model_dump() for c in _seed_candidates()]

    @property
    def base_dir(self) -> str | None:
        """The folder of the config file these settings came from, or None for defaults and env only."""
        return self._base_dir

    def with_base_dir(self, base_dir: str | None) -> Settings:
        """These settings, remembering ``base_dir`` (a worker rebuilding them from JSON restores it)."""
        self._base_dir = base_dir
        return self

    def served_models(self) -> list[str]:
        """The models a server follows, default first: ``server.models`` (duplicates dropped) or ``model``."""
        return list(dict.fromkeys(self.server.models or [self.model]))


def check_regression_split(split: SplitSettings) -> None:
    """Regression holds out a fraction: ``test_per_class`` other than its default is a mistake."""
    if split.test_per_class is not None and split.test_per_class != DEFAULT_TEST_PER_CLASS:
        raise ConfigError(
            "split.test_per_class: a regression target has no classes; use split.test_fraction (e.g. 0.2)"
        )


def regression_split(split: SplitSettings) -> SplitSettings:
    """The split a regression run uses: the configured fraction, or the default one."""
    check_regression_split(split)
    if split.test_fraction is not None:
        return split
    return SplitSettings(test_fraction=DEFAULT_REGRESSION_FRACTION, random_state=split.random_state)


SECRET_KEYS = frozenset({"token", "password"})
# Keys of which a section takes one or the other: overriding one clears its partner.
EXCLUSIVE_KEYS = {
    "split": {"test_per_class": "test_fraction", "test_fraction": "test_per_class"},
    "data": {"table": "query", "query": "table"},
}


def _shown_value(loc: tuple[str, ...], value: Any) -> str:
    """The bad value as an error may show it: scalars only, URLs without passwords, no secrets."""
    if loc and loc[-1] in SECRET_KEYS:
        return " (value hidden)"
    if isinstance(value, str) and "://" in value:
        from tabserve.urls import redact_url

        return f" (got {redact_url(value)!r})"
    if value is None or isinstance(value, bool | int | float | str):
        return f" (got {value!r})"
    return ""  # a whole section or list: it may hold URLs or tokens, and the path says where


def _describe(errors: list[dict[str, Any]], origin: str, env_keys: dict[tuple, str]) -> str:
    lines = []
    for error in errors:
        loc = tuple(str(part) for part in error["loc"])
        # The variable that set this key, or a list or section holding it.
        where = next((env_keys[loc[:n]] for n in range(len(loc), 0, -1) if loc[:n] in env_keys), None)
        # An unknown section named by a variable (TABSERVE_SERCH__CV): the error is on the section.
        where = where or next((name for keys, name in env_keys.items() if keys[: len(loc)] == loc), origin)
        path = ".".join(loc) or "(top level)"
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown key"
        got = "" if error["type"] in ("missing", "extra_forbidden") else _shown_value(loc, error.get("input"))
        lines.append(f"{where}: {path}: {message}{got}")
    return "\n".join(lines)


def load_settings(
    path: str | Path | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Build validated settings from a file, environment overrides and explicit overrides.

    ``environ`` defaults to ``os.environ``; tests pass a dict instead.
    ``overrides`` (e.g. a POST /train body) are applied last, section by section.
    """
    environ = os.environ if environ is None else environ
    if path is None and environ.get(f"{ENV_PREFIX}CONFIG"):
        path = environ[f"{ENV_PREFIX}CONFIG"]
    raw: dict[str, Any] = {}
    base_dir = None
    if path is not None:
        # Paths written in the file are relative to it; env values, applied next, to the cwd.
        base_dir = str(Path(path).parent)
        raw = resolve_config_paths(read_config_file(path), base_dir)
    origin = str(path) if path is not None else "defaults"
    env_keys: dict[tuple, str] = {}
    for name, closest in stray_variables(environ, setting_variables()):
        hint = f"; did you mean {closest}?" if closest else ""
        log.warning("%s matches no tabserve setting and is ignored%s", name, hint)
    for name, (keys, value) in env_overrides(environ).items():
        set_path(raw, keys, value)
        env_keys[keys] = f"env {name}"
    _merge_sections(raw, overrides or {})
    return _validate(raw, origin, env_keys).with_base_dir(base_dir)


def validate_mapping(raw: dict[str, Any], origin: str) -> Settings:
    """Settings from an already-read mapping (no environment), errors naming ``origin``."""
    return _validate(raw, origin, {})


def setting_variables() -> list[str]:
    """The environment variable of every setting: TABSERVE_MODEL and TABSERVE_<SECTION>__<KEY>."""
    names = []
    for section, field in Settings.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            names += [f"{ENV_PREFIX}{section.upper()}__{key.upper()}" for key in annotation.model_fields]
        else:
            names.append(f"{ENV_PREFIX}{section.upper()}")
    return names


def validate_overrides(
    base: Settings, overrides: Mapping[str, Any], origin: str = "request body"
) -> Settings:
    """Apply per-run overrides (a POST /train body, CLI flags) to settings, validated like a file."""
    raw = base.model_dump()
    _merge_sections(raw, overrides)
    return _validate(raw, origin, {}).with_base_dir(base.base_dir)


def _merge_sections(raw: dict[str, Any], overrides: Mapping[str, Any]) -> None:
    for section, value in overrides.items():
        if isinstance(value, dict) and isinstance(raw.get(section), dict):
            merged = {**raw[section], **value}
            for key, partner in EXCLUSIVE_KEYS.get(section, {}).items():
                if value.get(key) is not None and partner not in value:
                    merged[partner] = None
            raw[section] = merged
        else:
            raw[section] = value


def _validate(raw: dict[str, Any], origin: str, env_keys: dict[tuple, str]) -> Settings:
    try:
        return Settings.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_describe(exc.errors(), origin, env_keys)) from None
