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
from collections.abc import Sequence
from typing import TYPE_CHECKING

from tabserve.monitoring.canary_stats import VersionStats

if TYPE_CHECKING:
    from tabserve.predictor import Predictor

ROUTING_KEY = b"x-routing-key"
BUCKETS = 10_000


_BUCKETS_SEEN: dict[bytes, int] = {}  # callers come back: their bucket is hashed once
_BUCKETS_KEPT = 65_536


def bucket(key: bytes) -> int:
    """The key's bucket, 0 to 9,999: the same on every server and every run."""
    found = _BUCKETS_SEEN.get(key)
    if found is None:
        found = int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "big") % BUCKETS
        if len(_BUCKETS_SEEN) >= _BUCKETS_KEPT:
            _BUCKETS_SEEN.clear()
        _BUCKETS_SEEN[key] = found
    return found


def routing_key(headers: Sequence[tuple[bytes, bytes]]) -> bytes | None:
    """The last ``X-Routing-Key`` of raw ASGI headers (lower-case names), or None."""
    found = None
    for name, value in headers:
        if name == ROUTING_KEY:
            found = value
    return found


class CanaryRoute:
    """The canary of one model on this server: its record's id, the loaded candidate, the figures."""

    def __init__(
        self,
        canary_id: int,
        candidate: Predictor,
        weight: int,
        window: int,
        production: int | None = None,
        since: float | None = None,
    ) -> None:
        self.id = canary_id
        self.candidate = candidate
        self.weight = weight
        self.window = window
        self._threshold = weight * BUCKETS // 100  # buckets below it go to the candidate
        self._share = weight / 100
        # By version: the candidate's and production's figures, all the predict path counts in.
        self.stats: dict[int, VersionStats] = {candidate.version: VersionStats(candidate.version, window)}
        if production is not None:
            self.track(production)
        self.started = time.time()
        self.since = self.started if since is None else since  # when the canary began, in the registry

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

    def track(self, production: int) -> None:
        """Keep figures for the production version beside the candidate's (a new one starts afresh)."""
        candidate = self.candidate.version
        if production not in self.stats:
            self.stats = {candidate: self.stats[candidate], production: VersionStats(production, self.window)}
