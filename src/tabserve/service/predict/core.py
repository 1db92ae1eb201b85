"""The predict core: one way from decoded input to a prediction, for every protocol.

Each protocol adapter (tabserve's own /predict routes; OIP v2, KServe V1 and
MLflow's /invocations) decodes its own wire format and words its own errors,
and goes through this core for everything in between, so the row limit, the
input checks, the predictor and the metrics are the same whichever way a
client asks::

    core = deps.predict_core(app)                 # in a route: a ``deps.Core`` parameter
    predictor = core.production("iris", headers)  # sync; the slot's loaded version (or a canary's)
    predictor = await core.version("iris", 1)     # any version; non-production ones LRU-cached
    batch = core.rows(predictor, payload)          # bare row / {"instances"} / {"columns","data"}
    batch = core.matrix(predictor, array)          # an [N, F] array in feature order
    batch = core.columns(predictor, {"sepal_length": [...], ...})  # one sequence per feature
    result = core.predict(predictor, batch, protocol="oip")        # -> PredictResult
    if core.batcher and core.batcher.takes(predictor, batch):      # one row, a tree model, batching on
        result = await core.predict_joined(predictor, batch)       # scored with concurrent rows
    found = await core.single_row_joined(predictor, [0.3, -1.2, 0.8, 0.1])  # the same, one plain row
    found = core.single_row(predictor, [5.1, 3.5, 1.4, 0.2])      # (index, probabilities, request id) or None
    body = await read_body(receive, core.body_limit, length)       # the byte limit every protocol uses
    batch = await core.off_loop(len(body), decode, body)           # big bodies decoded in a worker thread

``PredictResult`` holds the model, version, labels, classes, probabilities
(rows x classes in ``classes`` order, or None with ``labels_only``), each
row's class index and the input columns the model ignored (which each protocol
reports in an ``X-Tabserve-Ignored-Columns`` header, ``ignored_headers``); for
a regression model, ``values`` (one float per row, the label fields empty) and,
when a coverage was asked for (``interval=0.9``), the ``interval`` bounds. Every
call gets a request id (``monitoring.ids``: row ``i`` is ``<request id>-<i>``),
which each protocol returns in its own shape and the prediction log stores.
Every failure is a domain error from ``tabserve.errors``
(``NotFoundError`` for a model or version not served, ``NoModelError`` or
``BackendUnavailableError`` when nothing is loaded, ``InputError`` for rows
that do not fit the schema, ``BatchTooLargeError`` past ``max_batch_rows``);
``service.errors.lookup(exc)`` gives its HTTP status for any protocol's error
shape, and ``str(exc)`` is a message safe to show (it never echoes the input).

Size: every protocol's way from decoded input to an answer, and the canary's
hook on it (which version answers, its figures), are one path on purpose: a
second module would put a call between each protocol and its prediction.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from time import perf_counter
from typing import Any, TypeVar
from urllib.parse import quote

import numpy as np

from tabserve.errors import InputError
from tabserve.inputs import Batch, check_row_limit, check_width, parse_payload
from tabserve.monitoring.ids import REQUEST_HEADER, RequestIds
from tabserve.predictor import Interval, Prediction, Predictor
from tabserve.service.http.errors import lookup
from tabserve.service.predict.batching import MicroBatcher
from tabserve.service.predict.state import ServiceState

BASE_BODY_BYTES = 64 * 1024
BODY_BYTES_PER_ROW = 1024
_BIG_INT = 2**53  # larger integers do not survive the trip to float exactly: the batch path
OFF_LOOP_BYTES = 256 * 1024  # bodies larger than this are decoded in a worker thread, not on the event loop
MICRO_BATCH_MAX_ROWS = 256  # rows joined into one model call at most
IGNORED_HEADER = b"x-tabserve-ignored-columns"
IGNORED_COUNT_HEADER = b"x-tabserve-ignored-column-count"
VERSION_HEADER = b"x-tabserve-version"
IGNORED_NAMES_SHOWN = 20
_NAME_CHARS_SHOWN = 64
_T = TypeVar("_T")


def ignored_headers(ignored: Sequence[str]) -> list[tuple[bytes, bytes]]:
    """The response headers naming the input columns a prediction ignored (none when it ignored none).

    Names only, never values: at most ``IGNORED_NAMES_SHOWN`` of them, each cut to 64
    characters and percent-encoded where it holds a comma, a '%' or anything outside
    printable ASCII (so a name can neither split the list nor break the header); the
    count header says how many there were in all.
    """
    if not ignored:
        return []
    shown = ",".join(
        quote(name[:_NAME_CHARS_SHOWN], safe=" !\"#$&'()*+-./:;<=>?@[\\]^_`{|}~")
        for name in ignored[:IGNORED_NAMES_SHOWN]
    )
    return [(IGNORED_HEADER, shown.encode("ascii")), (IGNORED_COUNT_HEADER, str(len(ignored)).encode())]


def version_header(result: PredictResult) -> tuple[bytes, bytes]:
    """``X-Tabserve-Version``: which version answered, for protocols whose body cannot say it."""
    return VERSION_HEADER, str(result.version).encode()


def body_limit(max_batch_rows: int) -> int:
    """Bytes a predict body may have, whatever the protocol: generous for ``max_batch_rows`` rows,
    bounded for memory."""
    return BASE_BODY_BYTES + max_batch_rows * BODY_BYTES_PER_ROW


@dataclass(frozen=True)
class PredictResult:
    """What any protocol encodes: which version answered, labels, and (unless dropped) probabilities."""

    model: str
    version: int
    labels: list[str]
    classes: list[str]
    probabilities: np.ndarray | None  # rows x classes; None when only labels were asked for
    indices: np.ndarray  # each row's label as a position in ``classes``
    ignored: tuple[str, ...] = ()  # input columns the model does not take, left out of the prediction
    values: np.ndarray | None = None  # a regressor's predictions, one float per row
    interval: Interval | None = None  # a regressor's intervals, when a coverage was asked for
    request_id: str = ""  # row i's prediction id is f"{request_id}-{i}"

    @property
    def is_regression(self) -> bool:
        return self.values is not None


class PredictCore:
    """Find the version, validate rows against its schema, predict and count; one per app."""

    def __init__(self, state: ServiceState) -> None:
        self.state = state
        self.max_rows = state.settings.server.max_batch_rows
        self.body_limit = body_limit(self.max_rows)
        self.watch = state.watch  # inactive when monitoring is off: then nothing is queued
        self.request_ids = RequestIds()
        server = state.settings.server
        self.batcher = (
            MicroBatcher(server.batch_wait_us / 1e6, min(self.max_rows, MICRO_BATCH_MAX_ROWS))
            if server.micro_batching
            else None
        )

    # ---- which version answers ----
    def production(self, model: str | None = None, headers: Sequence[tuple[bytes, bytes]] = ()) -> Predictor:
        """The version that answers a served model's production traffic (default: the server's default
        model): the loaded production version, or during a canary the candidate for its share of
        requests (``headers``: the request's raw headers, for ``X-Routing-Key``)."""
        slot = self.state.default if model is None else self.state.slot(model)
        canaries = self.state.canaries
        if canaries:
            route = canaries.get(slot.name)
            if route is not None:
                return route.pick(slot.require(), headers)
        return slot.require()

    async def version(self, model: str, version: int) -> Predictor:
        """Any version of a served model: the production one as loaded, others loaded on demand."""
        slot = self.state.slot(model)
        current = slot.predictor
        if current is not None and current.version == version:
            return current
        return await self.state.versions.get(self.state.registry, model, version)

    # ---- decoded input to a validated batch ----
    async def off_loop(self, size: int, decode: Callable[..., _T], *args: Any) -> _T:
        """``decode(*args)`` for a body of ``size`` bytes: on the loop when small (a thread hop costs
        more than it saves), in a worker thread past ``OFF_LOOP_BYTES`` so other requests (probes
        included) are answered while a big body is parsed."""
        if size > OFF_LOOP_BYTES:
            return await asyncio.to_thread(decode, *args)
        return decode(*args)

    def rows(self, predictor: Predictor, payload: Any) -> Batch:
        """JSON-like input: a bare row, a list of rows, ``{"instances"}`` or ``{"columns", "data"}``."""
        return parse_payload(payload, predictor.schema, self.max_rows)

    def matrix(self, predictor: Predictor, values: np.ndarray) -> Batch:
        """A two-dimensional array whose columns are the features in schema order."""
        names = predictor.schema.names
        if values.ndim != 2 or values.shape[1] != len(names):
            raise InputError(
                f"expected a [rows, {len(names)}] array ({', '.join(names)}), got shape {list(values.shape)}"
            )
        self._check_count(values.shape[0])
        if predictor.schema.all_numeric and values.dtype.kind in "fiub":
            matrix = np.ascontiguousarray(values, dtype=np.float64)
            infinite = np.isinf(matrix)
            if infinite.any():  # one check over the flat array; rows are looked at only when it fails
                row = int(np.flatnonzero(infinite.any(axis=1))[0])
                raise InputError(f"row {row}: expected finite numbers")
            return Batch(len(matrix), matrix, None)
        return self.rows(predictor, {"instances": values.tolist()})

    def columns(self, predictor: Predictor, columns: Mapping[str, Sequence[Any]]) -> Batch:
        """One sequence of values per feature, keyed by feature name (any order, all of equal length);
        other names are ignored, up to ``max_columns``."""
        check_width(len(columns), predictor.schema, "the request")
        names = list(columns)
        lengths = {len(v) for v in columns.values()}
        if len(lengths) > 1:
            raise InputError("every column must have the same number of values")
        count = lengths.pop() if lengths else 0
        self._check_count(count)
        data = [list(row) for row in zip(*(list(columns[n]) for n in names), strict=True)]
        return self.rows(predictor, {"columns": names, "data": data})

    def _check_count(self, count: int) -> None:
        if count == 0:
            raise InputError("the batch is empty; send at least one row")
        check_row_limit(count, self.max_rows)

    def check_rows(self, count: int) -> None:
        """The row limit, for a protocol that builds its own batch (``BatchTooLargeError`` past it)."""
        check_row_limit(count, self.max_rows)

    # ---- the prediction ----
    def predict(
        self,
        predictor: Predictor,
        batch: Batch,
        protocol: str = "tabserve",
        labels_only: bool = False,
        interval: float | None = None,
    ) -> PredictResult:
        """Predict a validated batch and count it under ``protocol`` in the metrics (and, during a
        canary, in its version's figures)."""
        stats = self._canary_stats(predictor) if self.state.canaries else None
        if stats is None:
            return self._predict(predictor, batch, protocol, labels_only, interval)
        result, took = _timed(stats, self._predict, predictor, batch, protocol, labels_only, interval)
        if result.values is not None:
            stats.record_values(took, result.values.tolist())
        else:
            stats.record_labels(took, result.labels)
        return result

    def _predict(
        self,
        predictor: Predictor,
        batch: Batch,
        protocol: str,
        labels_only: bool,
        interval: float | None,
    ) -> PredictResult:
        """Predict a validated batch and count it under ``protocol`` in the metrics.

        One finite numeric row takes the model's pure-Python row path, as tabserve's own
        /predict does, so every protocol's single-row answer costs the same and equals it.
        ``interval``: a regressor's coverage for intervals (a classifier refuses it).
        """
        if predictor.is_regression or interval is not None:
            request_id = self.request_ids()
            out = predictor.predict(batch, interval=interval)
            assert out.values is not None
            self.state.metrics.observe_values(predictor.model, out.values, protocol)
            if self.watch.active:
                self.watch.observe(
                    predictor,
                    batch.rows,
                    batch.matrix,
                    batch.columns,
                    out.indices,
                    None,
                    out.values,
                    out.interval,
                    request_id=request_id,
                )
            return PredictResult(
                predictor.model,
                predictor.version,
                [],
                [],
                None,
                out.indices,
                ignored=batch.ignored,
                values=out.values,
                interval=out.interval,
                request_id=request_id,
            )
        if batch.rows == 1 and batch.matrix is not None:
            found = self._single_row(predictor, batch.matrix[0].tolist(), protocol)
            if found is not None:
                index, probabilities, request_id = found
                classes = predictor.classes
                return PredictResult(
                    predictor.model,
                    predictor.version,
                    [classes[index]],
                    classes,
                    None if labels_only else np.array([probabilities]),
                    np.array([index]),
                    batch.ignored,
                    request_id=request_id,
                )
        return self._result(predictor, batch, predictor.predict(batch, labels_only), protocol)

    async def predict_joined(
        self, predictor: Predictor, batch: Batch, protocol: str = "tabserve", labels_only: bool = False
    ) -> PredictResult:
        """``predict`` for a batch the batcher ``takes``, in one model call with the rows of other
        requests ready at the same time; the same result, metrics, watch and canary figures as
        ``predict``."""
        assert self.batcher is not None and batch.matrix is not None
        values = batch.matrix[0].tolist()
        if predictor.row_width is not None and _plain_row(values) is not None:
            # A row the unbatched path gives to the single-row path: counted as that path counts it.
            found = await self.single_row_joined(predictor, values, protocol)
            assert found is not None
            index, probabilities, request_id = found
            return PredictResult(
                predictor.model,
                predictor.version,
                [predictor.classes[index]],
                predictor.classes,
                None if labels_only else np.array([probabilities]),
                np.array([index]),
                batch.ignored,
                request_id=request_id,
            )
        stats = self._canary_stats(predictor) if self.state.canaries else None
        started = perf_counter()
        try:
            probabilities = await self.batcher.predict(predictor, values)
        except Exception as exc:
            if stats is not None and lookup(exc).status >= 500:  # bad input is not the version's failure
                stats.record_error()
            raise
        index = probabilities.index(max(probabilities))
        out = Prediction(
            [predictor.classes[index]],
            None if labels_only else np.array([probabilities]),
            predictor.classes,
            np.array([index]),
        )
        result = self._result(predictor, batch, out, protocol)
        if stats is not None:
            stats.record_labels(perf_counter() - started, result.labels)
        return result

    async def single_row_joined(
        self, predictor: Predictor, values: list[Any], protocol: str = "tabserve"
    ) -> tuple[int, list[float], str] | None:
        """``single_row`` for a version the batcher joins: the row is scored in one model call with
        the rows of other requests ready at the same time; the same answer and accounting."""
        assert self.batcher is not None
        row = _plain_row(values) if predictor.row_width == len(values) else None
        if row is None:
            return None
        stats = self._canary_stats(predictor) if self.state.canaries else None
        started = perf_counter()
        try:
            probabilities = await self.batcher.predict(predictor, row)
        except Exception as exc:
            if stats is not None and lookup(exc).status >= 500:
                stats.record_error()
            raise
        index, request_id = self._row_counted(predictor, row, probabilities, protocol)
        if stats is not None:
            stats.record(perf_counter() - started, predictor.classes[index])
        return index, probabilities, request_id

    def _canary_stats(self, predictor: Predictor) -> Any:
        """The version's figures while a canary of its model runs (None otherwise)."""
        route = self.state.canaries.get(predictor.model)
        return None if route is None else route.stats.get(predictor.version)

    def _result(self, predictor: Predictor, batch: Batch, out: Prediction, protocol: str) -> PredictResult:
        """Count a classifier's prediction, hand it to the watch and wrap it for the protocols."""
        request_id = self.request_ids()
        self.state.metrics.count_predictions(predictor.model, out.classes, out.indices, protocol)
        watch = self.watch
        if watch.active:
            rows, matrix, columns = batch.rows, batch.matrix, batch.columns
            watch.observe(
                predictor, rows, matrix, columns, out.indices, out.probabilities, request_id=request_id
            )
        return PredictResult(
            predictor.model,
            predictor.version,
            out.labels,
            out.classes,
            out.probabilities,
            out.indices,
            batch.ignored,
            request_id=request_id,
        )

    def single_row(
        self, predictor: Predictor, values: list[Any], protocol: str = "tabserve"
    ) -> tuple[int, list[float], str] | None:
        """``_single_row``, counted in the version's figures during a canary."""
        stats = self._canary_stats(predictor) if self.state.canaries else None
        if stats is None:
            return self._single_row(predictor, values, protocol)
        found, took = _timed(stats, self._single_row, predictor, values, protocol)
        if found is not None:
            stats.record(took, predictor.classes[found[0]])
        return found

    def _single_row(
        self, predictor: Predictor, values: list[Any], protocol: str = "tabserve"
    ) -> tuple[int, list[float], str] | None:
        """The single-row shortcut: one row of plain numbers on the model's single-row path (pure
        Python for a linear model, buffers bound once for a tree model or booster), giving the class
        index, the probabilities and the request id.

        Only the clear-cut case is taken (the model has a row path, ``values`` has its
        width and holds finite floats or exactly representable ints); None otherwise, and
        the caller takes the batch path, which also words every error.
        """
        if predictor.row_width != len(values):
            return None
        row = _plain_row(values)
        if row is None:
            return None
        probabilities = predictor.predict_row(row)
        if probabilities is None:
            return None
        index, request_id = self._row_counted(predictor, row, probabilities, protocol)
        return index, probabilities, request_id

    def _row_counted(
        self, predictor: Predictor, row: list[float], probabilities: list[float], protocol: str
    ) -> tuple[int, str]:
        """A single row's class index and request id, counted in the metrics and given to the watch."""
        index = probabilities.index(max(probabilities))  # the first maximum, as numpy's argmax
        self.state.metrics.count_predictions(predictor.model, predictor.classes, (index,), protocol)
        request_id = self.request_ids()
        watch = self.watch
        if watch.active:
            watch.observe_row(predictor, row, index, probabilities, request_id)
        return index, request_id


def _plain_row(values: list[Any]) -> list[float] | None:
    """``values`` as floats when they are the clear-cut case of the single-row path (finite floats or
    exactly representable ints), else None."""
    row = []
    for value in values:
        kind = type(value)
        if kind is float:
            if not math.isfinite(value):
                return None
        elif kind is not int or not -_BIG_INT < value < _BIG_INT:
            return None
        row.append(float(value))
    return row


def request_id_header(request_id: str) -> tuple[bytes, bytes]:
    """The response header carrying a call's request id (row ``i``'s id is ``<request id>-<i>``)."""
    return (REQUEST_HEADER, request_id.encode())


def _timed(stats: Any, call: Callable[..., _T], *args: Any) -> tuple[_T, float]:
    """``call(*args)`` and the seconds it took; a failure of the version's own (a 5xx, not the
    caller's bad input) counts as an error in its canary figures."""
    started = perf_counter()
    try:
        return call(*args), perf_counter() - started
    except Exception as exc:
        if lookup(exc).status >= 500:
            stats.record_error()
        raise
