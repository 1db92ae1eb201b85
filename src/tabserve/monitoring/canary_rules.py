"""The canary's abort rules: given both versions' figures, the reason to end the canary, or None.

Each rule is a function of the candidate's and production's ``VersionStats``
and the ``canary:`` settings; ``judge`` asks them in turn. The request rules
judge only once the candidate has answered ``min_requests`` recent requests;
the latency rule also needs ``P99_MIN_ANSWERED`` answers per side (below that
a p99 is the slowest single request: one pause would abort a sound
candidate). The realised-metric rule compares the labelled predictions of
both versions since the canary began (``VersionStats.realised``, read by the
judge from the ground truth) once each has ``min_labelled_rows``.
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


def realised_metric(
    candidate: VersionStats, production: VersionStats | None, rules: CanarySettings
) -> str | None:
    """The candidate's realised accuracy is more than ``max_accuracy_drop`` below production's (a
    regressor: its RMSE more than ``max_rmse_increase`` above), each over ``min_labelled_rows`` at least."""
    mine = candidate.realised
    theirs = None if production is None else production.realised
    if mine is None or theirs is None or min(mine.rows, theirs.rows) < rules.min_labelled_rows:
        return None
    counts = f"over {mine.rows} labelled predictions"
    their_counts = f"over {theirs.rows}"
    drop = rules.max_accuracy_drop
    if drop is not None and mine.accuracy is not None and theirs.accuracy is not None:
        if theirs.accuracy - mine.accuracy <= drop:
            return None
        return (
            f"realised accuracy {mine.accuracy:.1%} {counts} is {theirs.accuracy - mine.accuracy:.1%} "
            f"below production's {theirs.accuracy:.1%} ({their_counts}), "
            f"more than canary.max_accuracy_drop ({drop:.1%})"
        )
    rise = rules.max_rmse_increase
    if rise is not None and mine.rmse is not None and theirs.rmse is not None:
        if mine.rmse <= theirs.rmse * (1 + rise):
            return None
        worse = f"{mine.rmse / theirs.rmse - 1:.1%} above" if theirs.rmse > 0 else "above"
        return (
            f"realised RMSE {mine.rmse:.4g} {counts} is {worse} production's {theirs.rmse:.4g} "
            f"({their_counts}), more than canary.max_rmse_increase ({rise:.1%})"
        )
    return None


def wants_realised(rules: CanarySettings) -> bool:
    """Whether the realised-metric rule is on, so the judge reads the ground truth at all."""
    return rules.max_accuracy_drop is not None or rules.max_rmse_increase is not None


RULES: tuple[Rule, ...] = (error_rate, p99_ratio, realised_metric)


def judge(
    candidate: VersionStats, production: VersionStats | None, rules: CanarySettings
) -> tuple[str, str] | None:
    """The first rule the candidate breaks, as its name (a metric label) and the reason worded for the
    log and the canary's record; None if none."""
    for rule in RULES:
        reason = rule(candidate, production, rules)
        if reason is not None:
            return rule.__name__, reason
    return None


def breach(candidate: VersionStats, production: VersionStats | None, rules: CanarySettings) -> str | None:
    """The reason of the first rule the candidate breaks; None if none."""
    found = judge(candidate, production, rules)
    return None if found is None else found[1]
