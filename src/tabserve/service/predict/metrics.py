"""Prometheus metrics for one server process, cheap enough for the predict path.

Each app gets its own ``CollectorRegistry`` (tests build many apps in one
process). In a single process, a request's count, latency and predicted class
are added to plain numbers under one lock (prometheus_client's own ``inc`` and
``observe`` take a lock per call and walk the buckets in Python), and moved
into the prometheus children when anything collects the registry (a scrape,
``get_sample_value``), so every scrape sees every request answered before it.

With several worker processes (``server.workers``), a scrape reaches one of
them, so each worker's counters and histograms are written to files in a
folder the server names (``PROMETHEUS_MULTIPROC_DIR``, prometheus_client's
multiprocess mode) and every scrape adds up all workers' files: counts never
jump backwards. Gauges say which process they describe: the loaded version and
the unloadable-alias flag carry a ``pid`` label per live worker; requests in
flight are summed over live workers. Process figures (CPU, memory) and the
drift gauges are the answering worker's own.

Size: the figures, the cheap single-process way to them and the multi-worker
files are one registry's; apart, each would have to know the others' children.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from bisect import bisect_left
from collections.abc import Callable, Iterable, Sequence

import numpy as np
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector, multiprocess
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import Collector

from tabserve.service.predict import value_metrics

log = logging.getLogger(__name__)

LATENCY_BUCKETS = (
    0.0002,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)
JOB_STATUSES = ("queued", "running", "succeeded", "failed")
CONTENT_TYPE = CONTENT_TYPE_LATEST
MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"


def multiprocess_dir() -> str | None:
    """The folder workers share their metrics through, or None for a single process."""
    return os.environ.get(MULTIPROCESS_ENV) or None


class _JobCollector(Collector):
    """Training jobs by status, read from the registry database at scrape time (any replica's jobs)."""

    def __init__(self, counts: Callable[[], dict[str, int]]) -> None:
        self.counts = counts

    def describe(self) -> Iterable[GaugeMetricFamily]:
        return [GaugeMetricFamily("tabserve_training_jobs", "Training jobs in the registry by status")]

    def collect(self) -> Iterable[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "tabserve_training_jobs", "Training jobs in the registry by status", labels=["status"]
        )
        try:
            counts = self.counts()
        except Exception as exc:  # a scrape must not fail because the database is away
            log.warning("could not count training jobs: %s", exc)
            return []
        for status in sorted(set(JOB_STATUSES) | set(counts)):
            family.add_metric([status], counts.get(status, 0))
        return [family]


class _Pending(Collector):
    """Registered first, so collecting the registry first moves the pending figures in."""

    def __init__(self, flush: Callable[[], None]) -> None:
        self.flush = flush

    def describe(self) -> Iterable[GaugeMetricFamily]:
        return []

    def collect(self) -> Iterable[GaugeMetricFamily]:
        self.flush()
        return []


class ServiceMetrics:
    """Request counts and latency by route and status, predictions by class, the loaded version."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._shared = multiprocess_dir()
        self._lock = threading.Lock()
        # (route, method, status) -> [count, seconds, per-bucket counts, counter child, histogram child]
        self._pending_requests: dict[tuple[str, str, int], list] = {}
        self._pending_classes: dict[tuple[str, str, str], list] = {}  # -> [rows, counter child]
        if self._shared is None:  # workers' figures go to their files at once, to be summed by any scrape
            self.registry.register(_Pending(self._flush))
            self.observe_request = self._observe_pending  # type: ignore[method-assign]
        self._requests = Counter(
            "tabserve_http_requests",
            "HTTP requests by route, method and status",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self._latency = Histogram(
            "tabserve_http_request_duration_seconds",
            "Time to answer an HTTP request by route and status",
            ["route", "method", "status"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self._predictions = Counter(
            "tabserve_predictions",
            "Predicted rows by model, class and the protocol that asked",
            ["model", "class", "protocol"],
            registry=self.registry,
        )
        self._task_failures = Counter(
            "tabserve_background_task_failures",
            "Background tasks (alias follower, job check) that ended with an error",
            ["task"],
            registry=self.registry,
        )
        self._model_version = Gauge(
            "tabserve_model_version",
            "Version of the model this process serves (0: none)",
            ["model"],
            registry=self.registry,
            multiprocess_mode="liveall",
        )
        self._alias_unloadable = Gauge(
            "tabserve_model_alias_unloadable",
            "1 while the production alias is on a version this process cannot load (it serves an older one)",
            ["model"],
            registry=self.registry,
            multiprocess_mode="liveall",
        )
        self._canary_aborts = Counter(
            "tabserve_canary_aborts",
            "Canaries this process ended because an abort rule was broken, by the rule",
            ["model", "rule"],
            registry=self.registry,
        )
        self._reloader_polls = Counter(
            "tabserve_reloader_polls",
            "Rounds the alias follower has finished (each checks every served model)",
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "tabserve_http_requests_in_flight",
            "HTTP requests this process has started and not yet answered (a scrape counts itself)",
            registry=self.registry,
            multiprocess_mode="livesum",
        )
        ProcessCollector(registry=self.registry)
        self._bounds = (*LATENCY_BUCKETS, float("inf"))
        self._own_collectors: list[Collector] = []
        self._values = Histogram(
            value_metrics.NAME,
            value_metrics.HELP,
            ["model", "protocol"],
            buckets=value_metrics.BOUNDS.tolist(),
            registry=self.registry,
        )
        self._value_children: dict[tuple[str, str], object] = {}
        self._request_children: dict[
            tuple[str, str, int], tuple[Callable[[], None], Callable[[float], None]]
        ] = {}
        self._class_children: dict[tuple[str, str, str], Callable[[float], None]] = {}

    def watch_jobs(self, counts: Callable[[], dict[str, int]]) -> None:
        self.add_collector(_JobCollector(counts))

    def add_collector(self, collector: Collector) -> None:
        """A collector computed at scrape time (job counts, drift), answered by the scraped process."""
        self.registry.register(collector)
        self._own_collectors.append(collector)

    def count_canary_abort(self, model: str, rule: str) -> None:
        self._canary_aborts.labels(model, rule).inc()

    def expect_canary_aborts(self, model: str, rules: Iterable[str]) -> None:
        """Export the model's abort counts at 0 from the start, so an alert's ``increase()`` sees the
        first abort (a series born at 1 shows no increase)."""
        for rule in rules:
            self._canary_aborts.labels(model, rule)

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        key = (route, method, status)
        children = self._request_children.get(key)
        if children is None:
            labels = (route, method, str(status))
            children = (self._requests.labels(*labels).inc, self._latency.labels(*labels).observe)
            self._request_children[key] = children
        children[0]()
        children[1](seconds)

    def _observe_pending(self, route: str, method: str, status: int, seconds: float) -> None:
        """``observe_request`` in a single process: plain numbers now, the children at collection."""
        key = (route, method, status)
        with self._lock:
            slot = self._pending_requests.get(key)
            if slot is None:
                labels = (route, method, str(status))
                slot = [0, 0.0, [0] * len(self._bounds), self._requests.labels(*labels)]
                slot.append(self._latency.labels(*labels))
                self._pending_requests[key] = slot
            slot[0] += 1
            slot[1] += seconds
            slot[2][bisect_left(self._bounds, seconds)] += 1  # the first bound >= seconds, as observe

    def _flush(self) -> None:
        """Move the pending figures into the prometheus children (at collection time)."""
        with self._lock:
            for slot in self._pending_requests.values():
                if slot[0]:
                    slot[3].inc(slot[0])
                    histogram = slot[4]
                    histogram._sum.inc(slot[1])
                    for bucket, count in zip(histogram._buckets, slot[2], strict=True):
                        if count:
                            bucket.inc(count)
                    slot[0], slot[1], slot[2] = 0, 0.0, [0] * len(self._bounds)
            for slot in self._pending_classes.values():
                if slot[0]:
                    slot[1].inc(slot[0])
                    slot[0] = 0

    def count_predictions(
        self,
        model: str,
        classes: list[str],
        indices: Sequence[int] | np.ndarray,
        protocol: str = "tabserve",
    ) -> None:
        """Count answers per class; ``indices`` are each row's label as a position in ``classes``."""
        if len(indices) == 1:
            if self._shared is None:
                key = (model, classes[indices[0]], protocol)
                with self._lock:
                    slot = self._pending_classes.get(key)
                    if slot is None:
                        slot = self._pending_classes[key] = [0, self._predictions.labels(*key)]
                    slot[0] += 1
                return
            self._class_inc(model, classes[indices[0]], protocol)(1)
            return
        for position, n in enumerate(np.bincount(indices, minlength=len(classes)).tolist()):
            if n:
                self._class_inc(model, classes[position], protocol)(n)

    def observe_values(self, model: str, values: np.ndarray, protocol: str = "tabserve") -> None:
        """A regressor's predicted values, into the ``tabserve_predicted_values`` histogram."""
        key = (model, protocol)
        child = self._value_children.get(key)
        if child is None:
            child = self._values.labels(model, protocol)
            self._value_children[key] = child
        value_metrics.observe_batch(child, values)

    def _class_inc(self, model: str, label: str, protocol: str) -> Callable[[float], None]:
        key = (model, label, protocol)
        inc = self._class_children.get(key)
        if inc is None:
            inc = self._predictions.labels(model, label, protocol).inc
            self._class_children[key] = inc
        return inc

    def count_task_failure(self, task: str) -> None:
        self._task_failures.labels(task).inc()

    def set_alias_unloadable(self, model: str, unloadable: bool) -> None:
        self._alias_unloadable.labels(model).set(1 if unloadable else 0)

    def count_reloader_poll(self) -> None:
        self._reloader_polls.inc()

    def set_model_version(self, model: str, version: int) -> None:
        self._model_version.labels(model).set(version)

    def render(self) -> bytes:
        if self._shared is None:
            return generate_latest(self.registry)
        combined = CollectorRegistry()
        multiprocess.MultiProcessCollector(combined, path=self._shared)
        ProcessCollector(registry=combined)
        for collector in self._own_collectors:
            combined.register(collector)
        return generate_latest(combined)

    def close(self) -> None:
        """At a worker's exit: its live gauges leave the shared figures (its counts stay)."""
        if self._shared is not None:
            multiprocess.mark_process_dead(os.getpid(), self._shared)


_KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class RequestMetrics:
    """ASGI middleware timing every request that reaches FastAPI, labelled by route template.

    Unmatched paths share one label, so a scan of random URLs cannot grow the
    metric without bound.
    """

    def __init__(self, app: Callable, metrics: ServiceMetrics) -> None:
        self.app = app
        self.observe = metrics.observe_request
        self.in_flight = metrics.in_flight

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        self.in_flight.inc()

        async def send_and_note(message: dict) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            self.in_flight.dec()
            label = route_label(scope)
            method = scope["method"] if scope["method"] in _KNOWN_METHODS else "OTHER"
            self.observe(label, method, status, time.perf_counter() - started)


def route_label(scope: dict) -> str:
    """The matched route's template, or "unmatched" (unknown paths must not each become a label).

    FastAPI's own routes set ``scope["route"]``; plain Starlette routes (``/docs``,
    ``/openapi.json``) set only the endpoint, so theirs is looked up in the app.
    """
    route = scope.get("route")
    endpoint = scope.get("endpoint")
    if route is None and endpoint is not None:
        routes = getattr(scope.get("app"), "routes", ())
        route = next((r for r in routes if getattr(r, "endpoint", None) is endpoint), None)
    return getattr(route, "path", None) or "unmatched"
