"""Realised performance as Prometheus gauges: per model and version, beside the hold-out figure.

Worked out at scrape time from the stored ground truth (one query per served
model), at most once per ``REFRESH_S`` or when this process stored feedback:
a scrape every few seconds costs the database nothing more, and realised
figures move only as feedback arrives.
Every replica exports the same figures (they come from the shared registry);
alert on ``max by (model, version)``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from tabserve.config import MonitoringSettings
from tabserve.monitoring.feedback import FeedbackStore
from tabserve.monitoring.performance import model_report

log = logging.getLogger(__name__)

REFRESH_S = 30.0
LABELS = ["model", "version"]
# (figure key, metric name, help), figures over monitoring.performance_days
REALISED = (
    (
        "rows",
        "tabserve_realised_labelled_rows",
        "Predictions with ground truth (over monitoring.performance_days)",
    ),
    ("accuracy", "tabserve_realised_accuracy", "Share of labelled predictions that were right"),
    ("accuracy_lower", "tabserve_realised_accuracy_lower", "Lower end of the accuracy's 95% Wilson interval"),
    ("macro_f1", "tabserve_realised_macro_f1", "Macro-averaged F1 of the labelled predictions"),
    ("rmse", "tabserve_realised_rmse", "Root mean squared error of the labelled predictions"),
    ("mae", "tabserve_realised_mae", "Mean absolute error of the labelled predictions"),
)
HOLDOUT = (
    ("accuracy", "tabserve_holdout_accuracy", "The version's hold-out accuracy (for comparison)"),
    ("rmse", "tabserve_holdout_rmse", "The version's hold-out RMSE (for comparison)"),
)


class PerformanceCollector(Collector):
    """``tabserve_realised_*`` and ``tabserve_holdout_*`` gauges for every served model's versions."""

    def __init__(
        self,
        registry: Callable[[], Any],
        models: Callable[[], Iterable[str]],
        monitoring: MonitoringSettings,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.registry = registry
        self.models = models
        self.monitoring = monitoring
        self.clock = clock
        self._rows: list[tuple[str, int, dict[str, Any], dict[str, Any]]] = []
        self._at = -REFRESH_S
        self._accepted = FeedbackStore.accepted_in_process

    def describe(self) -> Iterable[Metric]:
        """The families without samples: registering the collector reads nothing."""
        return self._families([])

    def collect(self) -> Iterable[Metric]:
        try:
            now = self.clock()
            accepted = FeedbackStore.accepted_in_process
            if now - self._at >= REFRESH_S or accepted != self._accepted:
                self._rows = list(self._read(now))
                self._at, self._accepted = now, accepted
        except Exception:  # a scrape must never fail because the registry is away
            log.warning("could not read realised performance for /metrics", exc_info=True)
        yield from self._families(self._rows)

    def _read(self, now: float) -> Iterable[tuple[str, int, dict[str, Any], dict[str, Any]]]:
        window, window_s = next(iter(self.monitoring.performance_windows.items()))
        for model in self.models():
            report = model_report(
                self.registry(), model, window, window_s, self.monitoring.performance_days, now
            )
            for version in report["versions"]:
                overall = dict(version["overall"])
                interval = overall.get("accuracy_interval")
                overall["accuracy_lower"] = interval[0] if interval else None
                yield model, version["version"], overall, version["holdout"]

    def _families(self, rows: list[tuple[str, int, dict[str, Any], dict[str, Any]]]) -> Iterable[Metric]:
        realised = {key: GaugeMetricFamily(name, text, labels=LABELS) for key, name, text in REALISED}
        holdout = {key: GaugeMetricFamily(name, text, labels=LABELS) for key, name, text in HOLDOUT}
        for model, version, overall, held_out in rows:
            labels = [model, str(version)]
            for key, family in realised.items():
                if overall.get(key) is not None:
                    family.add_metric(labels, overall[key])
            for key, family in holdout.items():
                if held_out.get(key) is not None:
                    family.add_metric(labels, held_out[key])
        yield from realised.values()
        yield from holdout.values()
