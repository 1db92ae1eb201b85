"""The canary's abort rules: given both versions' figures, the reason to end the canary, or None.

Each rule is a function of the candidate's and production's ``VersionStats``
and the ``canary:`` settings; ``breach`` asks them in turn. A rule judges only
once its versions have answered ``min_requests`` recent requests; the latency
rule also needs ``P99_MIN_ANSWERED`` answers per side (below that a p99 is the
slowest single request: one pause would abort a sound candidate). A rule on
realised performance (labelled feedback) joins ``RULES`` as one more function
of the same shape once the figures it needs are kept per version.
"""

from __future__ import annotations

from collections.abc import Callable

from tabserve.config import CanarySettings
from tabserve.monitoring.canary_stats import VersionStats

P99_MIN_ANSWERED = 100
Rule = Callable[[VersionStats, VersionStats | None, CanarySettings], str | None]


def error_rate(candidate: VersionStats, production: VersionStats | None, rules: CanarySettings) -> str | None:
    """The candidate failed more of its recent requests than ``max_error_rate``."""
    if candidate.recent_requests < rules.min_requests:
        return None
    rate = candidate.recent_error_rate
    if rate <= rules.max_error_rate:
        return None
    return (
        f"error rate {rate:.1%} over its last {candidate.recent_requests} requests is above "
        f"canary.max_error_rate ({rules.max_error_rate:.1%})"
    )


def p99_ratio(candidate: VersionStats, production: VersionStats | None, rules: CanarySettings) -> str | None:
    """The candidate's p99 latency is above ``max_p99_ratio`` times production's."""
    limit = rules.max_p99_ratio
    if limit is None or production is None:
        return None
    least = max(rules.min_requests, P99_MIN_ANSWERED)
    if min(candidate.recent_answered, production.recent_answered) < least:
        return None
    mine, theirs = candidate.latency_quantile(0.99), production.latency_quantile(0.99)
    if mine is None or theirs is None or theirs <= 0 or mine <= limit * theirs:
        return None
    if 1000 * (mine - theirs) <= rules.p99_slack_ms:
        return None
    return (
        f"p99 latency {1000 * mine:.2f} ms is {mine / theirs:.1f}x production's {1000 * theirs:.2f} ms, "
        f"above canary.max_p99_ratio ({limit:g}x)"
    )


RULES: tuple[Rule, ...] = (error_rate, p99_ratio)


def breach(candidate: VersionStats, production: VersionStats | None, rules: CanarySettings) -> str | None:
    """The first rule the candidate breaks, worded for the log and the canary's record; None if none."""
    for rule in RULES:
        reason = rule(candidate, production, rules)
        if reason is not None:
            return reason
    return None
