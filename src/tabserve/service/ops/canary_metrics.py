"""A running canary's figures as Prometheus metrics, per model and version, read at scrape time:
requests, errors, latency, class mix, and the realised figures the judge last read.

Both sides of each canary this process routes to (the candidate and
production) carry a ``version`` label and a ``role`` (candidate or
production), so a dashboard puts them side by side. Nothing is set on the
predict path; with no canary running the collector yields no samples.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from tabserve.service.predict.state import ServiceState

log = logging.getLogger(__name__)

LABELS = ["model", "version", "role"]


class CanaryCollector(Collector):
    """Requests, errors, latency quantiles and class mix of each canary's two versions."""

    def __init__(self, state: ServiceState) -> None:
        self.state = state

    def collect(self) -> Iterable[Metric]:
        try:
            yield from self._families()
        except Exception:  # a scrape must never fail because of a canary
            log.exception("could not collect the canaries' metrics")

    def _families(self) -> Iterable[Metric]:
        weight = GaugeMetricFamily(
            "tabserve_canary_weight",
            "Percent of production traffic the candidate gets",
            labels=["model", "version"],
        )
        requests = CounterMetricFamily(
            "tabserve_canary_requests", "Requests a canary's version answered or failed here", labels=LABELS
        )
        errors = CounterMetricFamily(
            "tabserve_canary_errors", "Requests a canary's version failed (server errors)", labels=LABELS
        )
        latency = GaugeMetricFamily(
            "tabserve_canary_latency_seconds",
            "Recent prediction latency of a canary's version",
            labels=[*LABELS, "quantile"],
        )
        mix = GaugeMetricFamily(
            "tabserve_canary_class_share",
            "Share of each class in a canary's version's answers",
            labels=[*LABELS, "class"],
        )
        labelled = GaugeMetricFamily(
            "tabserve_canary_labelled_rows",
            "Labelled predictions (ground truth sent back) of a canary's version since it began",
            labels=LABELS,
        )
        accuracy = GaugeMetricFamily(
            "tabserve_canary_realised_accuracy",
            "Realised accuracy of a canary's version since it began (a classifier)",
            labels=LABELS,
        )
        rmse = GaugeMetricFamily(
            "tabserve_canary_realised_rmse",
            "Realised RMSE of a canary's version since it began (a regressor)",
            labels=LABELS,
        )
        for model, route in list(self.state.canaries.items()):
            candidate = route.candidate.version
            weight.add_metric([model, str(candidate)], route.weight)
            for version, stats in list(route.stats.items()):
                labels = [model, str(version), "candidate" if version == candidate else "production"]
                requests.add_metric(labels, stats.requests)
                errors.add_metric(labels, stats.errors)
                for q in (0.5, 0.99):
                    seconds = stats.latency_quantile(q)
                    if seconds is not None:
                        latency.add_metric([*labels, str(q)], seconds)
                total = sum(stats.classes.values())
                for label, n in list(stats.classes.items()):
                    mix.add_metric([*labels, label], n / total)
                realised = stats.realised
                if realised is not None:
                    labelled.add_metric(labels, realised.rows)
                    if realised.accuracy is not None:
                        accuracy.add_metric(labels, realised.accuracy)
                    if realised.rmse is not None:
                        rmse.add_metric(labels, realised.rmse)
        yield from (weight, requests, errors, latency, mix, labelled, accuracy, rmse)
