"""A running canary as one server holds it: which requests the candidate answers, and the figures.

The follower (``canary_follow.py``) puts a ``CanaryRoute`` in
``ServiceState.canaries`` once the candidate is loaded and takes it out when the
canary ends; with none there, routing costs one empty-dict test per request.
A request with an ``X-Routing-Key`` header always lands on the same side for the
same key (its hash picks a bucket out of 10,000), any other request is drawn at
random with the canary's weight.
"""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, TypeVar

from tabserve.monitoring.canary_stats import VersionStats
from tabserve.service.http.errors import lookup

if TYPE_CHECKING:
    from tabserve.predictor import Predictor

ROUTING_KEY = b"x-routing-key"
BUCKETS = 10_000
_T = TypeVar("_T")


def bucket(key: bytes) -> int:
    """The key's bucket, 0 to 9,999: the same on every server and every run."""
    return int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "big") % BUCKETS


def routing_key(headers: Sequence[tuple[bytes, bytes]]) -> bytes | None:
    """The last ``X-Routing-Key`` of raw ASGI headers (lower-case names), or None."""
    found = None
    for name, value in headers:
        if name == ROUTING_KEY:
            found = value
    return found


class CanaryRoute:
    """The canary of one model on this server: its record's id, the loaded candidate, the figures."""

    def __init__(self, canary_id: int, candidate: Predictor, weight: int, window: int) -> None:
        self.id = canary_id
        self.candidate = candidate
        self.weight = weight
        self.window = window
        self._threshold = weight * BUCKETS // 100  # buckets below it go to the candidate
        self._share = weight / 100
        self.stats: dict[int, VersionStats] = {candidate.version: VersionStats(candidate.version, window)}
        self.started = time.time()

    def reweigh(self, weight: int) -> None:
        """The canary's weight changed in the registry; the figures go on."""
        self.weight = weight
        self._threshold = weight * BUCKETS // 100
        self._share = weight / 100

    def pick(self, production: Predictor, headers: Sequence[tuple[bytes, bytes]]) -> Predictor:
        """The version that answers this request."""
        key = routing_key(headers)
        if key is None:
            return self.candidate if random.random() < self._share else production
        return self.candidate if bucket(key) < self._threshold else production

    def stats_for(self, version: int) -> VersionStats:
        """The figures of ``version`` (production's are started on its first request)."""
        found = self.stats.get(version)
        if found is None:
            found = self.stats[version] = VersionStats(version, self.window)
        return found

    def observe(self, predictor: Predictor, call: Callable[[], _T]) -> tuple[_T, VersionStats, float]:
        """Run ``call`` (the prediction) under the version's figures: its result, the figures to record
        the answer in, and the seconds it took. A failure is counted (and raised) unless the caller
        caused it (bad input: a 4xx is not the version's failure)."""
        stats = self.stats_for(predictor.version)
        started = time.perf_counter()
        try:
            result = call()
        except Exception as exc:
            if lookup(exc).status >= 500:
                stats.record_error()
            raise
        return result, stats, time.perf_counter() - started
