"""The canary's abort rules judge only on enough requests (or labelled predictions), and name the
figure and the limit."""

from __future__ import annotations

from tabserve.config import CanarySettings
from tabserve.monitoring.canary_realised import Realised, from_label_counts
from tabserve.monitoring.canary_rules import P99_MIN_ANSWERED, breach, judge
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


def realised(version: int, rows: int, accuracy: float | None = None, rmse: float | None = None):
    figures = stats(version, 0)
    figures.realised = Realised(rows, accuracy=accuracy, rmse=rmse)
    return figures


LABELLED = RULES.model_copy(
    update={"max_accuracy_drop": 0.05, "max_rmse_increase": 0.1, "min_labelled_rows": 50}
)


def test_a_candidate_right_less_often_than_production_is_ended_once_both_have_enough_labels():
    production = realised(1, 400, accuracy=0.95)
    found = judge(realised(2, 60, accuracy=0.80), production, LABELLED)
    assert found == (
        "realised_metric",
        "realised accuracy 80.0% over 60 labelled predictions is 15.0% below production's 95.0% "
        "(over 400), more than canary.max_accuracy_drop (5.0%)",
    )
    assert judge(realised(2, 49, accuracy=0.10), production, LABELLED) is None  # too few labels
    assert judge(realised(2, 60, accuracy=0.80), realised(1, 49, accuracy=0.95), LABELLED) is None
    assert judge(realised(2, 60, accuracy=0.91), production, LABELLED) is None  # within the drop
    assert judge(realised(2, 60, accuracy=0.80), stats(1, 0), LABELLED) is None  # production unlabelled
    off = LABELLED.model_copy(update={"max_accuracy_drop": None})
    assert judge(realised(2, 60, accuracy=0.10), production, off) is None


def test_a_regressor_whose_rmse_is_worse_than_production_by_more_than_the_share_is_ended():
    production = realised(1, 100, rmse=2.0)
    reason = breach(realised(2, 100, rmse=2.5), production, LABELLED)
    assert reason == (
        "realised RMSE 2.5 over 100 labelled predictions is 25.0% above production's 2 (over 100), "
        "more than canary.max_rmse_increase (10.0%)"
    )
    assert breach(realised(2, 100, rmse=2.19), production, LABELLED) is None  # 9.5 % worse
    assert breach(realised(2, 100, rmse=1.0), production, LABELLED) is None  # better
    assert breach(realised(2, 10, rmse=9.0), production, LABELLED) is None  # too few labels


def test_labelled_pairs_count_by_version_and_compare_labels_exactly():
    found = from_label_counts([(2, "a", "a", 3), (2, "a", "b", 1), (1, "a", "A", 2), (1, "b", "b", 2)])
    assert found == {2: Realised(4, accuracy=0.75), 1: Realised(4, accuracy=0.5)}
    assert realised(2, 4, accuracy=0.75).summary()["realised"] == {"labelled_rows": 4, "accuracy": 0.75}
