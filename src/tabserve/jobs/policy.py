"""What a POST /train body may change: only what cannot reach beyond the server's own config.

A token holder may reshape a run (split, folds, scorer, parallelism within the
machine, candidates from scikit-learn's classifiers) but never choose what the
server reads or connects to: the data source, its file, URL, database or query,
and the Dask scheduler come from the server's config. An operator who wants
requests to pick among several sources lists them, whole, in
``server.train_sources``. Refusals name the key, never the value sent. A
relative path in the body is read against the server's config file's folder,
as the config's own paths are, so both sides compare resolved paths.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from tabserve.config import EXCLUSIVE_KEYS, SearchSettings, Settings, validate_overrides
from tabserve.config_paths import resolve_data_section
from tabserve.errors import NotAcceptedError
from tabserve.search_plan import run_fits

OVERRIDABLE_SECTIONS = ("data", "split", "search", "candidates")
DATA_LOCATION_KEYS = ("source", "path", "url", "table", "query")
DATA_FREE_KEYS = ("target", "features")
SEARCH_KEYS = ("cv", "scoring", "n_jobs", "strategy", "n_iter")
MAX_CV = 20
# Estimator parameters a request may not put in a grid: more processes than the
# machine's cores, or a cache folder on the server's disk.
GRID_PARAMS_REFUSED = frozenset({"n_jobs", "memory"})


def check_train_overrides(
    settings: Settings, overrides: Mapping[str, Any], newest_task: str | None = None
) -> Settings:
    """Refuse overrides outside the policy, then validate like the config file; the run's settings.

    ``newest_task``: the task of the model's newest version, the task a ``task: auto`` run on the
    same data decides again (so its default candidates are counted); a run that changes the data
    does not use it.
    """
    refused = [key for key in overrides if key not in OVERRIDABLE_SECTIONS]
    if refused:
        raise NotAcceptedError(
            f"cannot override {', '.join(repr(str(k))[:40] for k in refused[:5])} for one run "
            f"(allowed sections: {', '.join(OVERRIDABLE_SECTIONS)})"
        )
    data = overrides.get("data")
    if isinstance(data, Mapping):
        if settings.base_dir is not None:
            data = resolve_data_section(data, settings.base_dir)
            overrides = {**overrides, "data": data}
        _check_data(settings, data)
    search = overrides.get("search")
    if isinstance(search, Mapping):
        _check_search(search)
    candidates = overrides.get("candidates")
    if isinstance(candidates, list):
        _check_candidates(candidates)
    run = validate_overrides(settings, overrides)
    if "candidates" in overrides or "search" in overrides:
        task = None if "data" in overrides else newest_task
        _check_size(run, settings.server.max_train_fits, task)
    return run


def _location(data: Mapping[str, Any]) -> tuple[Any, ...]:
    return tuple(data.get(key) for key in DATA_LOCATION_KEYS)


def _check_data(settings: Settings, data: Mapping[str, Any]) -> None:
    unknown = [str(k) for k in data if k not in DATA_LOCATION_KEYS + DATA_FREE_KEYS]
    if unknown:
        return  # validation names unknown keys
    chosen = [key for key in DATA_LOCATION_KEYS if key in data]
    if not chosen:
        return
    merged = {**settings.data.model_dump(), **data}
    for key, partner in EXCLUSIVE_KEYS["data"].items():
        if data.get(key) is not None and partner not in data:
            merged[partner] = None
    allowed = {_location(source.model_dump()) for source in settings.server.train_sources}
    if _location(merged) not in allowed:
        raise NotAcceptedError(
            f"data.{chosen[0]}: a training run cannot choose where its data comes from; the server's "
            "config names the source (an operator may list others a request can pick in server.train_sources)"
        )


def _check_search(search: Mapping[str, Any]) -> None:
    refused = [str(k) for k in search if k in SearchSettings.model_fields and k not in SEARCH_KEYS]
    if refused:
        raise NotAcceptedError(
            f"search.{refused[0][:40]}: set in the server's config only "
            f"(a run may change {', '.join('search.' + k for k in SEARCH_KEYS)})"
        )
    cv = search.get("cv")
    if isinstance(cv, int) and cv > MAX_CV:
        raise NotAcceptedError(f"search.cv: at most {MAX_CV} folds for one run")
    if "n_jobs" in search:
        n_jobs = search["n_jobs"]
        cores = os.cpu_count() or 1
        if (
            not isinstance(n_jobs, int)
            or isinstance(n_jobs, bool)
            or not (n_jobs == -1 or 1 <= n_jobs <= cores)
        ):
            raise NotAcceptedError(
                f"search.n_jobs: give -1 (every core) or 1 to {cores} (this machine's cores)"
            )


def _check_candidates(candidates: list[Any]) -> None:
    for index, candidate in enumerate(candidates):
        grid = candidate.get("grid") if isinstance(candidate, Mapping) else None
        if not isinstance(grid, Mapping):
            continue
        refused = sorted(str(k) for k in grid if k in GRID_PARAMS_REFUSED)
        if refused:
            raise NotAcceptedError(
                f"candidates.{index}.grid: {', '.join(refused)} cannot be set by a request "
                "(parallelism and caches are the server's to choose)"
            )


def _check_size(run: Settings, limit: int, task: str | None) -> None:
    combos, fits = run_fits(run, task)
    if fits > limit:
        raise NotAcceptedError(
            f"candidates: {run.search.strategy} search of {combos} parameter combinations with "
            f"{run.search.cv} folds = {fits} fits, more than server.max_train_fits ({limit})"
        )
