"""The hyper-parameter search a config asks for: grid, random or successive halving.

Each search reports (fits done, total) to a progress callback while it runs, and
the number of fits it will make is known before it starts, so the server's
policy can refuse a run that is too large.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable
from typing import Any

from joblib import effective_n_jobs
from sklearn.experimental import enable_halving_search_cv  # noqa: F401  (makes the halving searches importable)
from sklearn.model_selection import (
    GridSearchCV,
    HalvingGridSearchCV,
    HalvingRandomSearchCV,
    ParameterGrid,
    ParameterSampler,
    RandomizedSearchCV,
)

from tabserve.config import SearchSettings

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
HALVING_FACTOR = 3


def to_distribution(value: list[Any] | dict[str, Any]) -> Any:
    """A config's grid value as the search takes it: a list stays a list; ``{kind: [low, high]}``
    becomes the scipy.stats distribution (checked by the config before this)."""
    if isinstance(value, list):
        return list(value)
    from scipy import stats

    ((kind, (low, high)),) = value.items()
    if kind == "loguniform":
        return stats.loguniform(low, high)
    if kind == "uniform":
        return stats.uniform(low, high - low)
    return stats.randint(int(low), int(high))


def _has_distributions(grid: Iterable[dict[str, Any]]) -> bool:
    return any(not isinstance(values, list) for entry in grid for values in entry.values())


def _halving_fits(candidates: int, folds: int) -> int:
    """The most fits successive halving makes: every candidate on the first rung, a third kept per
    rung after (fewer when the data runs out of rungs first)."""
    fits, left = 0, candidates
    for _ in range(1 + int(math.log(max(candidates, 1), HALVING_FACTOR))):
        fits += left * folds
        left = math.ceil(left / HALVING_FACTOR)
    return fits


def planned_fits(search: SearchSettings, grid_sizes: list[int | None]) -> tuple[int, int]:
    """(candidates, fits) a search will try at most; ``grid_sizes`` holds one entry per candidate
    estimator: its number of combinations, or None when a parameter is a distribution."""
    combos = None if None in grid_sizes else sum(size or 0 for size in grid_sizes)
    if search.strategy == "grid" or (search.strategy == "halving" and combos is not None):
        candidates = combos or 0
    else:
        candidates = search.n_iter if combos is None else min(search.n_iter, combos)
    if search.strategy == "halving":
        return candidates, _halving_fits(candidates, search.cv)
    return candidates, candidates * search.cv


def grid_size(grid: dict[str, Any]) -> int | None:
    """Combinations of one candidate's grid, None when a value is a distribution."""
    if any(not isinstance(values, list) for values in grid.values()):
        return None
    return math.prod(len(values) for values in grid.values())


class _Reporting:
    """Sends (fits done, total) to a callback after each batch of candidates the search evaluates."""

    _progress: Progress | None = None
    _total = 0

    def report_to(self, progress: Progress | None, total: int) -> None:
        """Set apart from ``__init__``, whose signature scikit-learn reads as the estimator's parameters."""
        self._progress = progress
        self._total = total

    def __getstate__(self) -> dict[str, Any]:
        # scikit-learn may ship the search to the workers; the callback stays in this process.
        state = dict(super().__getstate__())  # type: ignore[misc]
        state.pop("_progress", None)
        return state

    def _report(self, done: int) -> None:
        if self._progress is not None:
            self._progress(min(done, self._total - 1), self._total)

    def _in_chunks(
        self, candidates: list[dict[str, Any]], evaluate: Callable[..., Any], **kwargs: Any
    ) -> None:
        """Evaluate in chunks that keep every joblib worker busy twice over, reporting after each:
        the results are those of one call (the folds are fixed by an int random_state)."""
        folds = self.n_splits_  # type: ignore[attr-defined]
        workers = max(1, effective_n_jobs(self.n_jobs))  # type: ignore[attr-defined]
        chunk = max(1, -(-2 * workers // folds))
        for start in range(0, len(candidates), chunk):
            evaluate(candidates[start : start + chunk], **kwargs)
            self._report(min(start + chunk, len(candidates)) * folds)


class ProgressGridSearch(_Reporting, GridSearchCV):
    """Every combination of the grid."""

    def _run_search(self, evaluate_candidates: Callable[..., Any], **kwargs: Any) -> None:
        self._in_chunks(list(ParameterGrid(self.param_grid)), evaluate_candidates, **kwargs)


class ProgressRandomSearch(_Reporting, RandomizedSearchCV):
    """``n_iter`` candidates sampled as RandomizedSearchCV samples them."""

    def _run_search(self, evaluate_candidates: Callable[..., Any], **kwargs: Any) -> None:
        sampled = ParameterSampler(self.param_distributions, self.n_iter, random_state=self.random_state)
        self._in_chunks(list(sampled), evaluate_candidates, **kwargs)


class _HalvingReporting(_Reporting):
    """Halving evaluates one rung per call: count the fits of each as it finishes."""

    def _run_search(self, evaluate_candidates: Callable[..., Any], *, callback_ctx: Any = None) -> None:
        # Named in the signature: scikit-learn hands its callback context only to searches that ask,
        # and successive halving needs it.
        done = 0

        def counted(candidates: list[dict[str, Any]], cv: Any, *args: Any, **more: Any) -> Any:
            nonlocal done
            results = evaluate_candidates(candidates, cv, *args, **more)
            done += len(candidates) * self.n_splits_  # type: ignore[attr-defined]
            self._report(done)
            return results

        super()._run_search(counted, callback_ctx=callback_ctx)  # type: ignore[misc]


class ProgressHalvingGrid(_HalvingReporting, HalvingGridSearchCV):
    """Successive halving over every combination of a grid of lists."""


class ProgressHalvingRandom(_HalvingReporting, HalvingRandomSearchCV):
    """Successive halving over ``n_iter`` sampled candidates."""


def build_search(
    settings: SearchSettings,
    pipeline: Any,
    param_grid: list[dict[str, Any]],
    folds: Any,
    scoring: str,
    random_state: int,
    progress: Progress | None = None,
) -> tuple[Any, int]:
    """The search ``settings.strategy`` names and its progress total (every fit, then the refit)."""
    sizes = [grid_size(entry) for entry in param_grid]
    candidates, fits = planned_fits(settings, sizes)
    common: dict[str, Any] = {"cv": folds, "scoring": scoring, "n_jobs": settings.n_jobs, "refit": True}
    common["error_score"] = "raise"
    search: Any
    if settings.strategy == "grid":
        search = ProgressGridSearch(pipeline, param_grid, **common)
    elif settings.strategy == "random":
        search = ProgressRandomSearch(
            pipeline, param_grid, n_iter=candidates, random_state=random_state, **common
        )
    elif _has_distributions(param_grid):
        search = ProgressHalvingRandom(
            pipeline,
            param_grid,
            n_candidates=candidates,
            factor=HALVING_FACTOR,
            random_state=random_state,
            **common,
        )
    else:
        search = ProgressHalvingGrid(
            pipeline, param_grid, factor=HALVING_FACTOR, random_state=random_state, **common
        )
    total = fits + 1
    search.report_to(progress, total)
    log.info("%s search: %d candidates, at most %d fits", settings.strategy, candidates, fits)
    return search, total
