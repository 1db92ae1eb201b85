"""The hyper-parameter search a config asks for: grid, random or successive halving.

Each search reports (fits done, total) to a progress callback while it runs;
the total is ``search_plan.planned_fits``, the most fits the search makes.
"""

from __future__ import annotations

import logging
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
from tabserve.search_plan import HALVING_FACTOR, grid_size, planned_fits

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]


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
