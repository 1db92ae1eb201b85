"""The canary's abort rules judge only on enough requests, and name the figure and the limit."""

from __future__ import annotations

from tabserve.config import CanarySettings
from tabserve.monitoring.canary_rules import P99_MIN_ANSWERED, breach
from tabserve.monitoring.canary_stats import VersionStats

RULES = CanarySettings(
    max_error_rate=0.1, max_p99_ratio=3, p99_slack_ms=1, min_requests=20, window_requests=200
)


def stats(version: int, answered: int, failed: int = 0, seconds: float = 0.001) -> VersionStats:
    figures = VersionStats(version, RULES.window_requests)
    for _ in range(answered):
        figures.record(seconds, "a")
    for _ in range(failed):
        figures.record_error()
    return figures


def test_an_error_rate_above_the_limit_ends_the_canary_once_enough_requests_were_seen():
    assert breach(stats(2, 5, 10), None, RULES) is None  # 15 requests: below min_requests
    reason = breach(stats(2, 15, 5), None, RULES)
    assert reason == "error rate 25.0% over its last 20 requests is above canary.max_error_rate (10.0%)"
    assert breach(stats(2, 19, 1), None, RULES) is None  # 5 %: within the limit


def test_the_error_rate_covers_the_recent_window_only():
    figures = stats(2, 0, 150)
    for _ in range(RULES.window_requests):
        figures.record_labels(0.001, ())
    assert figures.requests == 350 and figures.errors == 150
    assert breach(figures, None, RULES) is None


def test_a_slow_candidate_is_ended_by_the_p99_rule_and_noise_is_not():
    production = stats(1, P99_MIN_ANSWERED, seconds=0.001)
    assert "max_p99_ratio (3x)" in breach(stats(2, P99_MIN_ANSWERED, seconds=0.010), production, RULES)
    assert breach(stats(2, P99_MIN_ANSWERED - 1, seconds=0.010), production, RULES) is None  # too few
    assert breach(stats(2, P99_MIN_ANSWERED, seconds=0.0019), production, RULES) is None  # within the slack
    fast = stats(1, P99_MIN_ANSWERED, seconds=0.0001)
    assert breach(stats(2, P99_MIN_ANSWERED, seconds=0.0008), fast, RULES) is None  # 8x, but 0.7 ms
    off = RULES.model_copy(update={"max_p99_ratio": None})
    assert breach(stats(2, P99_MIN_ANSWERED, seconds=0.010), production, off) is None


def test_the_figures_shown_for_a_version():
    figures = stats(2, 3, 1)
    figures.record(0.004, "b")
    shown = figures.summary()
    assert shown["requests"] == 5 and shown["errors"] == 1 and shown["recent_error_rate"] == 0.2
    assert shown["class_mix"] == {"a": 0.75, "b": 0.25}
    assert shown["p50_ms"] == 1.0 and shown["p99_ms"] == 4.0
