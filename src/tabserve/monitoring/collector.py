"""The watch's figures as Prometheus gauges and counters, worked out at scrape time.

Nothing is set on the predict path: a scrape reads the drift windows' counts
and the channels' counters and turns them into families here.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric, SummaryMetricFamily
from prometheus_client.registry import Collector

from tabserve.monitoring.watch import Watch

log = logging.getLogger(__name__)

FEATURE_GAUGES = (
    ("psi", "tabserve_drift_psi", "Population stability index of a feature, live window vs training"),
    ("missing_share", "tabserve_drift_missing_share", "Share of live rows missing the feature"),
    (
        "out_of_range_share",
        "tabserve_drift_out_of_range_share",
        "Share of live rows outside the feature's training range (numeric features)",
    ),
    (
        "unseen_share",
        "tabserve_drift_unseen_share",
        "Share of live rows with a category never seen in training (categorical features)",
    ),
)


class WatchCollector(Collector):
    """Drift gauges per model, version and feature; rows queued, dropped and failed per consumer."""

    def __init__(self, watch: Watch) -> None:
        self.watch = watch

    def collect(self) -> Iterable[Metric]:
        try:
            yield from self._channels()
            if self.watch.drift is not None:
                yield from self._drift()
            yield from self._shadow()
        except Exception:  # a scrape must never fail because of the watch
            log.exception("could not collect the watch's metrics")

    def _channels(self) -> Iterable[Metric]:
        families = {
            "dropped_rows": CounterMetricFamily(
                "tabserve_watch_dropped_rows",
                "Rows dropped because a consumer's queue was full",
                labels=["consumer"],
            ),
            "failed_rows": CounterMetricFamily(
                "tabserve_watch_failed_rows",
                "Rows a consumer failed to handle (e.g. database away)",
                labels=["consumer"],
            ),
            "handled_rows": CounterMetricFamily(
                "tabserve_watch_handled_rows", "Rows a consumer handled", labels=["consumer"]
            ),
        }
        for name, channel in self.watch.channels.items():
            for attribute, family in families.items():
                family.add_metric([name], getattr(channel, attribute))
        yield from families.values()

    def _drift(self) -> Iterable[Metric]:
        assert self.watch.drift is not None
        features = {
            key: GaugeMetricFamily(name, text, labels=["model", "version", "feature"])
            for key, name, text in FEATURE_GAUGES
        }
        rows = GaugeMetricFamily(
            "tabserve_drift_window_rows", "Rows in the live drift window", labels=["model", "version"]
        )
        min_rows = GaugeMetricFamily(
            "tabserve_drift_min_rows",
            "Rows the window needs before the PSI gauges are given (monitoring.drift_min_rows)",
            labels=["model", "version"],
        )
        class_psi = GaugeMetricFamily(
            "tabserve_drift_prediction_psi",
            "Population stability index of the predicted class mix (a regressor: of its predicted "
            "values' bins), live window vs hold-out",
            labels=["model", "version"],
        )
        class_share = GaugeMetricFamily(
            "tabserve_drift_class_share",
            "Share of live rows predicted as each class",
            labels=["model", "version", "class"],
        )
        for report in self.watch.drift.reports():
            labels = [report["model"], str(report["version"])]
            rows.add_metric(labels, report["rows"])
            min_rows.add_metric(labels, report["min_rows"])
            for feature, figures in report["features"].items():
                for key, family in features.items():
                    if figures[key] is not None:
                        family.add_metric([*labels, feature], figures[key])
            predictions = report["predictions"]
            if predictions["psi"] is not None:
                class_psi.add_metric(labels, predictions["psi"])
            if predictions.get("kind") == "values":
                continue  # a regressor's values are the tabserve_predicted_values histogram
            for label, share in predictions["live"].items():
                if share is not None:
                    class_share.add_metric([*labels, label], share)
        yield rows
        yield min_rows
        yield from features.values()
        yield class_psi
        yield class_share

    def _shadow(self) -> Iterable[Metric]:
        pair = ["model", "production_version", "shadow_version"]
        rows = CounterMetricFamily("tabserve_shadow_rows", "Rows the shadow version scored", labels=pair)
        agreed = CounterMetricFamily(
            "tabserve_shadow_agreed_rows", "Rows where the shadow's label equals production's", labels=pair
        )
        agreement = GaugeMetricFamily(
            "tabserve_shadow_agreement", "Share of scored rows where shadow and production agree", labels=pair
        )
        errors = CounterMetricFamily(
            "tabserve_shadow_errors", "Rows the shadow version failed to score", labels=pair
        )
        confusion = CounterMetricFamily(
            "tabserve_shadow_confusion_rows",
            "Scored rows by production's label and the shadow's label",
            labels=[*pair, "production_class", "shadow_class"],
        )
        latency = SummaryMetricFamily(
            "tabserve_shadow_latency_seconds", "Time the shadow version took per call", labels=pair
        )
        p99 = GaugeMetricFamily(
            "tabserve_shadow_latency_p99_seconds",
            "99th percentile of the shadow's time per call over its recent calls",
            labels=pair,
        )
        absolute = GaugeMetricFamily(
            "tabserve_shadow_mean_absolute_difference",
            "Regression: mean |shadow value - production value| over the scored rows",
            labels=pair,
        )
        relative = GaugeMetricFamily(
            "tabserve_shadow_mean_relative_difference",
            "Regression: summed |shadow - production| over summed |production| of the scored rows",
            labels=pair,
        )
        for (model, production, shadow), summary in self.watch.shadow.snapshot():
            labels = [model, str(production), str(shadow)]
            rows.add_metric(labels, summary["rows"])
            errors.add_metric(labels, summary["errors"])
            if summary["kind"] == "values":
                for family, key in (
                    (absolute, "mean_absolute_difference"),
                    (relative, "mean_relative_difference"),
                ):
                    if summary[key] is not None:
                        family.add_metric(labels, summary[key])
            else:
                agreed.add_metric(labels, summary["agreed_rows"])
                if summary["agreement"] is not None:
                    agreement.add_metric(labels, summary["agreement"])
                for (served, scored), count in summary["_confusion_pairs"].items():
                    confusion.add_metric([*labels, served, scored], count)
            latency.add_metric(labels, summary["latency_ms"]["calls"], summary["_seconds"])
            if summary["latency_ms"]["p99"] is not None:
                p99.add_metric(labels, summary["latency_ms"]["p99"] / 1000)
        yield from (rows, agreed, agreement, errors, confusion, latency, p99, absolute, relative)
