"""One version's figures during a canary: requests, errors, latency, what it answered, and how right
it was (the realised figures the judge reads from the ground truth sent back).

Kept per server process for the production version and the candidate while a
canary runs (and not at all otherwise), so the two can be compared side by
side and judged by the abort rules. Counts are totals since the canary began
here; the error rate and latency percentiles cover the last ``window``
requests, so a version that goes wrong late is judged on what it does now.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tabserve.monitoring.canary_realised import Realised

_ERROR = -1.0  # a failed request in the latency window


class VersionStats:
    """Figures of one version; the ``record`` methods run on the predict path, once per request."""

    def __init__(self, version: int, window: int) -> None:
        self.version = version
        self.window = window
        self.requests = 0
        self.errors = 0
        self.classes: dict[str, int] = {}  # a classifier's answers by label
        self.value_sum = 0.0  # a regressor's answers: sum and count, for their mean
        self.values = 0
        self._recent: deque[float] = deque(maxlen=window)  # seconds per request, _ERROR for a failure
        # Its labelled predictions since the canary began, set by the judge from the registry database
        # (the same on every replica); None until first read.
        self.realised: Realised | None = None

    def record(self, seconds: float, label: str) -> None:
        """One answered single-row request: how long the model took and the label it gave."""
        self.requests += 1
        self._recent.append(seconds)
        classes = self.classes
        classes[label] = classes.get(label, 0) + 1

    def record_labels(self, seconds: float, labels: Iterable[str]) -> None:
        """One answered request of any number of rows, with their labels."""
        self.requests += 1
        self._recent.append(seconds)
        classes = self.classes
        for label in labels:
            classes[label] = classes.get(label, 0) + 1

    def record_values(self, seconds: float, values: Iterable[float]) -> None:
        """One answered request of a regressor: how long it took and the values it gave."""
        self.requests += 1
        self._recent.append(seconds)
        for value in values:
            self.value_sum += float(value)
            self.values += 1

    def record_error(self) -> None:
        """One request the version failed to answer (not the caller's bad input)."""
        self.requests += 1
        self.errors += 1
        self._recent.append(_ERROR)

    @property
    def recent_requests(self) -> int:
        return len(self._recent)

    @property
    def recent_answered(self) -> int:
        return sum(1 for item in list(self._recent) if item != _ERROR)

    @property
    def recent_error_rate(self) -> float:
        recent = self._recent
        return sum(1 for item in list(recent) if item == _ERROR) / len(recent) if recent else 0.0

    def latency_quantile(self, q: float) -> float | None:
        """Seconds at quantile ``q`` of the recent answered requests (nearest rank), or None."""
        answered = sorted(item for item in list(self._recent) if item != _ERROR)
        if not answered:
            return None
        rank = max(1, math.ceil(q * len(answered)))
        return answered[rank - 1]

    def summary(self) -> dict[str, Any]:
        """What the canary route, page and metrics show for this version."""
        p50, p99 = self.latency_quantile(0.5), self.latency_quantile(0.99)
        total = sum(self.classes.values())
        return {
            "version": self.version,
            "requests": self.requests,
            "errors": self.errors,
            "recent_requests": self.recent_requests,
            "recent_error_rate": round(self.recent_error_rate, 6),
            "p50_ms": None if p50 is None else round(1000 * p50, 3),
            "p99_ms": None if p99 is None else round(1000 * p99, 3),
            "class_mix": {label: round(n / total, 6) for label, n in sorted(self.classes.items())}
            if total
            else {},
            "mean_value": self.value_sum / self.values if self.values else None,
            "realised": None if self.realised is None else self.realised.summary(),
        }
