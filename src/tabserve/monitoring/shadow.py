"""Shadow scoring: a candidate version also scores live requests, off the response path.

The shadow channel's worker thread takes calls production already answered,
scores each with the model's candidate version (loaded once, in that thread)
and records, per (production version, candidate version): rows scored, rows
where the two agree, the confusion between their labels, and the
candidate's time per call. For a regression model agreement means little (two
forests never answer exactly the same number), so a pair records how far apart
the values are instead: the mean absolute difference, and the relative one
(the summed absolute differences over the summed absolute production values,
which stays finite when some values are near zero). The caller has had its
answer before any of this starts; a candidate that raises (or answers for the
other task) is counted, one that is slow only fills the bounded queue, which
then drops and counts rows.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tabserve.inputs import Batch
from tabserve.monitoring.channel import Observation

log = logging.getLogger(__name__)

LATENCY_SAMPLES = 1000  # recent calls the latency percentiles are taken over
AGREEMENT_ALERT = 0.95  # deploy/prometheus alerts below this


@dataclass
class ShadowStats:
    """What one (production, candidate) pair has shown so far."""

    rows: int = 0
    agreed: int = 0
    errors: int = 0
    calls: int = 0
    seconds: float = 0.0
    confusion: dict[tuple[str, str], int] = field(default_factory=dict)
    recent: deque = field(default_factory=lambda: deque(maxlen=LATENCY_SAMPLES))
    regression: bool = False
    absolute_difference: float = 0.0  # regression: sum of |shadow - production| over the rows
    production_magnitude: float = 0.0  # regression: sum of |production| over the rows
    largest_difference: float = 0.0


class ShadowScorer:
    """Candidates per model, and their agreement with production."""

    def __init__(self, targets: dict[str, int], load: Callable[[str, int], Any]) -> None:
        self.targets = dict(targets)  # model -> candidate version
        self.load = load  # (model, version) -> Predictor; runs in the worker thread
        self.candidates: dict[tuple[str, int], Any] = {}
        self.stats: dict[tuple[str, int, int], ShadowStats] = {}
        self.lock = threading.Lock()
        self._last_error = 0.0

    def set(self, model: str, version: int, candidate: Any = None) -> None:
        """Shadow ``model`` with ``version`` from now on (``candidate``: already loaded)."""
        with self.lock:
            if candidate is not None:
                self.candidates[(model, version)] = candidate
            self.targets[model] = version

    def clear(self, model: str) -> int | None:
        """Stop shadowing ``model``; the version it was shadowed with, if any."""
        with self.lock:
            return self.targets.pop(model, None)

    def wants(self, predictor: Any) -> bool:
        """Whether calls answered by ``predictor`` should be scored again (a cheap dict lookup)."""
        target = self.targets.get(predictor.model)
        return target is not None and target != predictor.version

    def handle(self, observations: list[Observation]) -> None:
        """Score each call with its model's candidate (the shadow channel's consumer)."""
        for observation in observations:
            production = observation.predictor
            version = self.targets.get(production.model)
            if version is None or version == production.version:
                continue  # the shadow was stopped or promoted since the call was queued
            key = (production.model, production.version, version)
            regression = bool(getattr(production, "is_regression", False))
            with self.lock:
                stats = self.stats.setdefault(key, ShadowStats(regression=regression))
            try:
                candidate = self._candidate(production.model, version)
                if bool(getattr(candidate, "is_regression", False)) != regression:
                    raise ValueError("the shadow version's task differs from production's")
                started = time.perf_counter()
                indices = _score(candidate, observation)
                elapsed = time.perf_counter() - started
            except Exception as exc:  # the candidate's failure is the shadow's, never the caller's
                with self.lock:
                    stats.errors += observation.rows
                self._report(production.model, version, exc)
                continue
            self._record(stats, production, candidate, observation, indices, elapsed)

    def _candidate(self, model: str, version: int) -> Any:
        found = self.candidates.get((model, version))
        if found is None:
            found = self.load(model, version)
            with self.lock:
                self.candidates[(model, version)] = found
        return found

    def _record(
        self,
        stats: ShadowStats,
        production: Any,
        candidate: Any,
        observation: Observation,
        indices: Any,
        elapsed: float,
    ) -> None:
        if stats.regression:
            served_values = np.asarray(observation.values, dtype=np.float64).reshape(-1)
            gaps = np.abs(np.asarray(indices, dtype=np.float64).reshape(-1) - served_values)
            with self.lock:
                stats.rows += len(gaps)
                stats.calls += 1
                stats.seconds += elapsed
                stats.recent.append(elapsed)
                stats.absolute_difference += float(gaps.sum())
                stats.production_magnitude += float(np.abs(served_values).sum())
                stats.largest_difference = max(stats.largest_difference, float(gaps.max(initial=0.0)))
            return
        served = np.asarray(observation.indices).reshape(-1)
        served_labels = [production.classes[i] for i in served.tolist()]
        shadow_labels = [candidate.classes[i] for i in np.asarray(indices).reshape(-1).tolist()]
        with self.lock:
            stats.rows += len(served_labels)
            stats.calls += 1
            stats.seconds += elapsed
            stats.recent.append(elapsed)
            for pair in zip(served_labels, shadow_labels, strict=True):
                stats.agreed += pair[0] == pair[1]
                stats.confusion[pair] = stats.confusion.get(pair, 0) + 1

    def _report(self, model: str, version: int, exc: Exception) -> None:
        now = time.monotonic()
        if now - self._last_error >= 60:
            self._last_error = now
            log.warning(
                "shadow %s version %d failed to score (counted; callers unaffected): %s", model, version, exc
            )

    def report(self, model: str) -> dict[str, Any]:
        """GET /models/{name}/shadow: the candidate, and each production/candidate pair's figures."""
        with self.lock:
            target = self.targets.get(model)
            pairs = [(key, _summary(stats)) for key, stats in self.stats.items() if key[0] == model]
        return {
            "model": model,
            "shadow_version": target,
            "agreement_alert_below": AGREEMENT_ALERT,
            "pairs": [
                {
                    "production_version": key[1],
                    "shadow_version": key[2],
                    **{k: v for k, v in summary.items() if not k.startswith("_")},
                }
                for key, summary in pairs
            ],
        }

    def snapshot(self) -> list[tuple[tuple[str, int, int], dict[str, Any]]]:
        """Every pair's figures (for /metrics)."""
        with self.lock:
            return [(key, _summary(stats)) for key, stats in self.stats.items()]


def _score(candidate: Any, observation: Observation) -> Any:
    """The candidate's class index per row of the call (a regressor: its value per row)."""
    if observation.values is not None:
        return candidate.predict(Batch(observation.rows, observation.matrix, observation.columns)).values
    if isinstance(observation.matrix, list):  # one plain row: the candidate's row path if it has one
        probabilities = candidate.predict_row(observation.matrix)
        if probabilities is not None:
            return [probabilities.index(max(probabilities))]
        batch = Batch(1, np.asarray([observation.matrix], dtype=np.float64), None)
    else:
        batch = Batch(observation.rows, observation.matrix, observation.columns)
    return candidate.predict(batch, labels_only=True).indices


def _differences(stats: ShadowStats) -> dict[str, Any]:
    """A regression pair's figures: how far the shadow's values are from production's."""
    rows = stats.rows
    relative = stats.absolute_difference / stats.production_magnitude if stats.production_magnitude else None
    return {
        "kind": "values",
        "rows": rows,
        "mean_absolute_difference": stats.absolute_difference / rows if rows else None,
        "mean_relative_difference": relative if rows else None,
        "max_absolute_difference": stats.largest_difference if rows else None,
    }


def _summary(stats: ShadowStats) -> dict[str, Any]:
    recent = sorted(stats.recent)
    labels = sorted({label for pair in stats.confusion for label in pair})
    matrix = [[stats.confusion.get((a, b), 0) for b in labels] for a in labels]

    def quantile(q: float) -> float | None:
        return recent[min(len(recent) - 1, int(q * len(recent)))] * 1000 if recent else None

    if stats.regression:
        figures = _differences(stats)
    else:
        figures = {
            "kind": "classes",
            "rows": stats.rows,
            "agreed_rows": stats.agreed,
            "agreement": stats.agreed / stats.rows if stats.rows else None,
            "confusion": {"labels": labels, "rows_production_columns_shadow": matrix},
        }
    return {
        **figures,
        "errors": stats.errors,
        "latency_ms": {
            "calls": stats.calls,
            "mean": 1000 * stats.seconds / stats.calls if stats.calls else None,
            "p50": quantile(0.5),
            "p99": quantile(0.99),
        },
        "_confusion_pairs": dict(stats.confusion),
        "_seconds": stats.seconds,
    }
