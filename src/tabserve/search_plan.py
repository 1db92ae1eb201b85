"""How many candidates and fits a configured search makes, without scikit-learn.

The server's POST /train policy refuses a run above ``server.max_train_fits``
from this count, and the serving process never imports scikit-learn. A run
that gives no candidates searches its task's defaults (the default classifiers,
or the regression defaults), so the count is of those; with ``task: auto`` the
task is the one the model's newest version was trained for, and without one
(or when the run changes the data) the larger of the two default searches.
"""

from __future__ import annotations

import math
from typing import Any

from tabserve.config import Candidate, SearchSettings, Settings, default_regression_candidates

HALVING_FACTOR = 3


def _halving_fits(candidates: int, folds: int) -> int:
    """The most fits successive halving makes: every candidate on the first rung, a third kept per
    rung after (fewer when the data runs out of rungs first)."""
    rungs, rest = 1, candidates
    while rest >= HALVING_FACTOR:  # 1 + floor(log_3(candidates)), in whole numbers
        rest //= HALVING_FACTOR
        rungs += 1
    fits, left = 0, candidates
    for _ in range(rungs):
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


def run_candidates(run: Settings, task: str | None) -> list[list[Candidate]]:
    """The candidate lists a run may search: its own, or its task's defaults (both when ``task`` is
    None, the task not being known before the data is read)."""
    if not run.uses_default_candidates():
        return [list(run.candidates)]
    chosen = run.task if run.task != "auto" else task
    if chosen == "regression":
        return [default_regression_candidates()]
    if chosen == "classification":
        return [list(run.candidates)]
    return [list(run.candidates), default_regression_candidates()]


def run_fits(run: Settings, task: str | None) -> tuple[int, int]:
    """(candidates, fits) of the largest search the run may make (see ``run_candidates``)."""
    plans = [
        planned_fits(run.search, [grid_size(c.grid) for c in lists]) for lists in run_candidates(run, task)
    ]
    return max(plans, key=lambda plan: plan[1])
