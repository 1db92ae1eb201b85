"""The server's watch over its answers: one hook on the predict path, one channel per consumer.

The predict core calls ``observe`` after the answer is computed; the watch
only queues the observation for each consumer that wants it (drift, and the
others as they are switched on), so the caller's latency does not depend on
what the consumers do. With every consumer off, ``active`` is False and the
predict core does not call in at all.
"""

from __future__ import annotations

import random
import time
from collections.abc import Awaitable, Callable
from typing import Any

from tabserve.config import Settings
from tabserve.monitoring.channel import Channel, Observation
from tabserve.monitoring.drift_tracker import DriftTracker, read_profile
from tabserve.monitoring.prediction_log import PredictionLog
from tabserve.monitoring.shadow import ShadowScorer

# Each log flush is one transaction (on SQLite a commit that syncs the file), costing about the
# same for 50 rows as for 5,000: flushing every second, not every 0.25 s, pays it a quarter as often.
LOG_INTERVAL_S = 1.0


class Watch:
    """Drift, the prediction log and shadow scoring (each a channel) for one server process."""

    def __init__(self, settings: Settings, registry: Callable[[], Any]) -> None:
        monitoring = settings.monitoring
        self.settings = settings
        self.channels: dict[str, Channel] = {}
        self.drift: DriftTracker | None = None
        if monitoring.drift:
            self.drift = DriftTracker(
                monitoring.window_rows, lambda p: read_profile(registry(), p), monitoring.drift_min_rows
            )
            self.channels["drift"] = Channel("drift", self.drift.handle, monitoring.queue_rows)
        self._always = [self.channels["drift"]] if self.drift else []
        self.log: PredictionLog | None = None
        self.log_rate = monitoring.log_predictions
        if self.log_rate > 0:
            self.log = PredictionLog(lambda: registry().metadata, monitoring.retention_days)
            self.channels["log"] = Channel("log", self.log.handle, monitoring.queue_rows, LOG_INTERVAL_S)
        self.shadow = ShadowScorer(settings.server.shadow, lambda m, v: _load(registry(), m, v))
        self.shadow_rate = monitoring.shadow_fraction
        self.channels["shadow"] = Channel("shadow", self.shadow.handle, monitoring.queue_rows)
        self.refresh()

    def refresh(self) -> None:
        """Work out ``active`` again (after a shadow is set or stopped)."""
        self.active = bool(self._always) or self.log_rate > 0 or bool(self.shadow.targets)

    def observe(
        self,
        predictor: Any,
        rows: int,
        matrix: Any,
        columns: dict[str, list] | None,
        indices: Any,
        probabilities: Any,
        values: Any = None,
        interval: Any = None,
        request_id: str = "",
    ) -> None:
        """Queue one answered call for every consumer that wants it; never raises into the caller.

        A single numeric row (a list) goes to drift as part of a row run; the log and shadow
        scoring, which need each call's probabilities and time, get an observation of its own.
        A regressor's call carries its ``values`` (and ``interval`` when one was asked for)
        instead of class indices, and always travels as an observation.
        """
        wanted = []
        if self.log_rate and (self.log_rate >= 1 or random.random() < self.log_rate):
            wanted.append(self.channels["log"])
        shadow = self.shadow
        if (
            shadow.targets
            and shadow.wants(predictor)
            and (self.shadow_rate >= 1 or random.random() < self.shadow_rate)
        ):
            wanted.append(self.channels["shadow"])
        single = rows == 1 and type(matrix) is list and values is None
        observation = None
        if wanted or not single:
            observation = Observation(
                predictor,
                rows,
                matrix,
                columns,
                indices,
                probabilities,
                time.time(),
                values,
                interval,
                request_id,
            )
        for channel in self._always:
            if single:
                channel.offer_row(predictor, matrix, indices[0])
            else:
                channel.offer(observation)
        for channel in wanted:
            channel.offer(observation)

    def observe_row(
        self, predictor: Any, row: list[float], index: int, probabilities: Any, request_id: str
    ) -> None:
        """``observe`` for one numeric row of a classifier (the single-row path): with no log and no
        shadow scoring it only joins drift's row run."""
        if not self.log_rate and not self.shadow.targets:
            for channel in self._always:
                channel.offer_row(predictor, row, index)
            return
        self.observe(predictor, 1, row, None, (index,), probabilities, request_id=request_id)

    def tasks(self) -> dict[str, Callable[[], Awaitable[None]]]:
        """The background task of each channel, by name, for the app's lifespan."""
        return {f"watch-{name}": channel.run for name, channel in self.channels.items()}


def _load(registry: Any, model: str, version: int) -> Any:
    from tabserve.predictor import Predictor

    return Predictor.load(registry, model, version)
