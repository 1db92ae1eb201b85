"""Drift windows of every version a server answers with, each against that version's profile.

Runs in the drift channel's worker thread: observations are grouped by
version, each version's profile is read from the registry once (checked
against its sha256 like every artifact), and each group is counted as one
batch. Versions stored without a profile (trained before profiles existed, or
registered from elsewhere) are reported as such, not guessed.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np

from tabserve.monitoring.channel import Observation
from tabserve.monitoring.drift import DRIFT_PSI, DriftWindow

log = logging.getLogger(__name__)

MAX_WINDOWS = 16  # versions tracked at once; the least recently fed is forgotten first
NO_PROFILE = "this version was stored without a reference profile (retrain it to record one)"


class DriftTracker:
    """One ``DriftWindow`` per (model, version) seen in answers."""

    def __init__(
        self, window_rows: int, read_profile: Callable[[Any], dict | None], min_rows: int = 1
    ) -> None:
        self.window_rows = window_rows
        self.min_rows = min_rows  # fewer rows than this: figures but no verdict
        self.read_profile = read_profile  # Predictor -> profile dict or None; may raise
        self.windows: OrderedDict[tuple[str, int], DriftWindow | None] = OrderedDict()
        self._lock = threading.Lock()

    def handle(self, observations: list[Observation]) -> None:
        """Count a drained queue into the windows (the drift channel's consumer)."""
        groups: dict[tuple[str, int], list[Observation]] = {}
        for observation in observations:
            predictor = observation.predictor
            groups.setdefault((predictor.model, predictor.version), []).append(observation)
        for key, group in groups.items():
            window = self._window(key, group[0].predictor)
            if window is not None:
                columns, indices = _stack(_newest(group, window.capacity), window.names)
                window.add(columns, indices)

    def _window(self, key: tuple[str, int], predictor: Any) -> DriftWindow | None:
        with self._lock:
            if key in self.windows:
                self.windows.move_to_end(key)
                return self.windows[key]
        profile = self.read_profile(predictor)  # a registry error propagates: the rows count as failed
        window = None
        if profile is not None:
            regression = bool(getattr(predictor, "is_regression", False))
            window = DriftWindow(profile, predictor.schema.names, self.window_rows, regression)
        if profile is None:
            log.info("%s version %d: %s; no drift figures", key[0], key[1], NO_PROFILE)
        with self._lock:
            self.windows[key] = window
            while len(self.windows) > MAX_WINDOWS:
                self.windows.popitem(last=False)
        return window

    def report(self, model: str, version: int) -> dict[str, Any]:
        """The drift of one version as GET /models/{name}/drift shows it."""
        with self._lock:
            known = (model, version) in self.windows
            window = self.windows.get((model, version))
        head: dict[str, Any] = {
            "model": model,
            "version": version,
            "window_rows": self.window_rows,
            "min_rows": self.min_rows,
            "psi_threshold": DRIFT_PSI,
        }
        if known and window is None:
            return {
                **head,
                "profile": False,
                "detail": NO_PROFILE,
                "rows": 0,
                "verdict": False,
                "features": {},
            }
        if window is None:
            detail = "no rows answered by this version yet"
            return {**head, "profile": None, "detail": detail, "rows": 0, "verdict": False}
        report = window.report(self.min_rows)
        if not report["verdict"]:
            report["detail"] = too_few_rows(report["rows"], self.min_rows)
        return {**head, "profile": True, **report}

    def reports(self) -> list[dict[str, Any]]:
        """Every tracked version's report (for /metrics)."""
        with self._lock:
            keys = [key for key, window in self.windows.items() if window is not None]
        return [self.report(*key) for key in keys]


def too_few_rows(rows: int, min_rows: int) -> str:
    """Why a version has figures but no verdict yet (the drift route and the console say it alike)."""
    return (
        f"{rows} row{'' if rows == 1 else 's'} so far, needs {min_rows} for a drift verdict "
        "(monitoring.drift_min_rows)"
    )


def read_profile(registry: Any, predictor: Any) -> dict | None:
    """The version's stored profile, or None when it has none."""
    record = predictor.record
    if "profile" not in record.artifacts:
        return None
    return json.loads(registry.read_file(record, "profile"))


def _newest(group: list[Observation], rows: int) -> list[Observation]:
    """The newest observations holding at least ``rows`` rows (the window's capacity), oldest first.

    Under a flood of large batches the queue holds many windows' worth of rows;
    the older ones would only be evicted by the newer, so they are not binned.
    """
    kept: list[Observation] = []
    total = 0
    for observation in reversed(group):
        if total >= rows:
            break
        kept.append(observation)
        total += observation.rows
    kept.reverse()
    return kept


def _answers(observation: Observation) -> np.ndarray:
    """One observation's answers, flat: a regressor's values, else each row's class index."""
    if observation.values is not None:
        return np.asarray(observation.values, dtype=np.float64).reshape(-1)
    return np.asarray(observation.indices, dtype=np.int64).reshape(-1)


def _stack(group: list[Observation], names: list[str]) -> tuple[list, np.ndarray]:
    """The rows of several observations as one list of columns, in ``names`` order, and their classes
    (a regressor's: their values).

    Order does not matter to counts, so lone single rows (plain lists, from the pure-Python path)
    are converted in one go and the rest, row runs included (flat lists), stacked after them.
    """
    if all(o.columns is None for o in group):
        singles = [o for o in group if o.rows == 1 and isinstance(o.matrix, list)]
        arrays = [o for o in group if not (o.rows == 1 and isinstance(o.matrix, list))]
        parts = [np.asarray([o.matrix for o in singles], dtype=np.float64).reshape(len(singles), len(names))]
        parts += [np.asarray(o.matrix, dtype=np.float64).reshape(o.rows, -1) for o in arrays]
        indices = [o.indices[0] for o in singles]
        index_parts = [np.asarray(indices, dtype=np.int64)]
        index_parts += [_answers(o) for o in arrays]
        matrix = np.vstack(parts)
        return [matrix[:, j] for j in range(len(names))], np.concatenate(index_parts)
    indices = np.concatenate([_answers(o) for o in group])
    columns: list[list] = [[] for _ in names]
    for observation in group:
        if observation.columns is not None:
            for j, name in enumerate(names):
                columns[j].extend(observation.columns[name])
        else:
            rows = np.asarray(observation.matrix, dtype=np.float64).reshape(observation.rows, -1)
            for j in range(len(names)):
                columns[j].extend(rows[:, j].tolist())
    return columns, indices
