"""tabserve's own predict protocol: body in, answer out, for its adapter and declared routes alike.

JSON (a bare row, ``instances``, columnar) or CSV in; the answer encoder's
JSON or CSV out. A small JSON body that is one plain row goes to the core's
single-row shortcut; big numeric bodies skip Python objects (``numeric_codec``);
everything else is validated by the predict core. Bodies past the core's
``OFF_LOOP_BYTES`` are decoded in a worker thread. Columns the model does not
take are ignored and named in the answer's headers (``ignored_headers``). Both
``TabserveAdapter`` and the FastAPI endpoints call ``PredictHandler.handle``,
so they answer and fail alike.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, NamedTuple
from urllib.parse import parse_qs

import orjson

from tabserve.errors import InputError
from tabserve.inputs import Batch, wanted_interval, wants_labels_only
from tabserve.intervals import check_coverage
from tabserve.numeric_codec import parse_numeric_csv, parse_numeric_json
from tabserve.predictor import Predictor
from tabserve.service.http.bodies import check_media, decode_json, media_type, read_body
from tabserve.service.http.errors import MalformedBodyError, NotAcceptedError
from tabserve.service.predict.core import (
    OFF_LOOP_BYTES,
    PredictCore,
    PredictResult,
    ignored_headers,
    request_id_header,
    version_header,
)
from tabserve.service.protocols.tabserve import answers

SINGLE_ROW_MAX_BYTES = 2048  # bodies this small may be one row: try the core's single-row shortcut
NUMERIC_CODEC_MIN_BYTES = 4096  # below this, orjson's Python objects are cheaper than numpy's set-up
QUERY_KEYS = ("labels_only", "interval", "ids")
BOOLEAN_VALUES = {"true": True, "false": False}
MEDIA_KINDS_KEPT = 64  # accepted Content-Type values remembered as sent (clients send a handful)


class Answer(NamedTuple):
    """A predict answer: content type, body and any headers (the ignored columns)."""

    media: bytes
    body: bytes
    headers: list[tuple[bytes, bytes]] = []


def interval_query(query: bytes) -> float | None:
    """``interval`` from the query string: a coverage strictly between 0 and 1 (given once), or None."""
    if not query or b"interval" not in query:
        return None
    values = parse_qs(query.decode("latin-1"), keep_blank_values=True).get("interval", [])
    if not values:
        return None
    if len(values) > 1:
        raise InputError("interval: give the coverage once, e.g. ?interval=0.9")
    try:
        coverage = float(values[0])
    except ValueError:
        raise InputError("interval: coverage must be a number strictly between 0 and 1") from None
    return check_coverage(coverage)


def labels_only_query(query: bytes) -> bool:
    """``labels_only`` from the query string, ``true`` or ``false`` as the schema says (given once);
    any other parameter is refused, naming it."""
    return _flag_query(query, "labels_only")


def ids_query(query: bytes) -> bool:
    """``ids`` from the query string: a CSV answer with an ``id`` column (JSON answers always carry ids)."""
    return b"ids" in query and _flag_query(query, "ids")


def _flag_query(query: bytes, name: str) -> bool:
    if not query:
        return False
    params = parse_qs(query.decode("latin-1"), keep_blank_values=True)
    unknown = [key for key in params if key not in QUERY_KEYS]
    if unknown:
        hint = ""
        if "version" in unknown:
            hint = "; to predict with one version, POST /models/{name}/versions/{version}/predict"
        names = ", ".join(repr(key[:40]) for key in unknown[:5])
        raise NotAcceptedError(
            f"query parameter(s) {names} not accepted here (allowed: labels_only, interval, ids){hint}"
        )
    values = params.get(name, [])
    if not values:
        return False
    if len(values) > 1 or values[0] not in BOOLEAN_VALUES:
        raise NotAcceptedError(f"query parameter '{name}' must be given once, as true or false")
    return BOOLEAN_VALUES[values[0]]


class PredictHandler:
    """The whole predict call for one request; shared by the adapter and the declared routes."""

    def __init__(self, core: PredictCore) -> None:
        self.core = core
        self.max_rows = core.max_rows
        self.limit = core.body_limit
        self.media_kinds: dict[bytes | str | None, bool] = {}  # Content-Type as sent -> is CSV

    async def handle(
        self,
        model: str | None,
        version: int | None,
        receive: Callable[[], Awaitable[dict]],
        content_type: bytes | str | None,
        content_length: bytes | str | None,
        query: bytes,
        headers: Sequence[tuple[bytes, bytes]] = (),
    ) -> Answer:
        """The answer for ``model`` (None: the default) at ``version`` (None: production, or a
        canary's candidate for its share: ``headers`` may carry the routing key); domain errors
        propagate to the error table."""
        is_csv = self.media_kinds.get(content_type)
        if is_csv is None:
            is_csv = check_media(media_type(content_type), csv=True)  # 415 for anything else
            if len(self.media_kinds) < MEDIA_KINDS_KEPT:
                self.media_kinds[content_type] = is_csv
        labels_only, interval = (labels_only_query(query), interval_query(query)) if query else (False, None)
        with_ids = ids_query(query) and is_csv  # checked for every answer: JSON always carries ids
        body = await read_body(receive, self.limit, content_length)
        if version is None:
            predictor = self.core.production(model, headers)
        else:
            predictor = await self.core.version(model or self.core.state.default.name, version)
        if len(body) > OFF_LOOP_BYTES:
            batch, payload = await self.core.off_loop(len(body), self._decode, body, is_csv, predictor)
            return self._predict(predictor, batch, payload, is_csv, labels_only, interval, with_ids)
        batcher = self.core.batcher
        if batcher is None or not batcher.joins(predictor):
            return self.answer(predictor, body, is_csv, labels_only, interval, with_ids)
        if interval is None and not is_csv and len(body) <= SINGLE_ROW_MAX_BYTES:
            plain = self._plain_row(body, predictor, labels_only)
            if plain is not None:
                found = await self.core.single_row_joined(predictor, plain[0])
                if found is not None:
                    return self._row_answer(predictor, found, plain[1])
        batch, payload = self._decode(body, is_csv, predictor)
        labels_only, interval = self._options(payload, labels_only, interval)
        if batcher.takes(predictor, batch, interval):
            result = await self.core.predict_joined(predictor, batch, labels_only=labels_only)
        else:
            result = self.core.predict(predictor, batch, labels_only=labels_only, interval=interval)
        return self._encode(result, is_csv, with_ids)

    def answer(
        self,
        predictor: Predictor,
        body: bytes,
        is_csv: bool,
        labels_only: bool,
        interval: float | None = None,
        with_ids: bool = False,
    ) -> Answer:
        """The whole answer on the calling thread (``handle`` decodes big bodies off the loop)."""
        shortcut = not predictor.is_regression and interval is None and not is_csv
        if shortcut and len(body) <= SINGLE_ROW_MAX_BYTES:
            answer_row = self._answer_row(body, predictor, labels_only)
            if answer_row is not None:
                return answer_row
        batch, payload = self._decode(body, is_csv, predictor)
        return self._predict(predictor, batch, payload, is_csv, labels_only, interval, with_ids)

    def _predict(
        self,
        predictor: Predictor,
        batch: Batch,
        payload: Any,
        is_csv: bool,
        labels_only: bool,
        interval: float | None,
        with_ids: bool = False,
    ) -> Answer:
        """Predict a decoded batch with the options of the query and of the body."""
        labels_only, interval = self._options(payload, labels_only, interval)
        result = self.core.predict(predictor, batch, labels_only=labels_only, interval=interval)
        return self._encode(result, is_csv, with_ids)

    @staticmethod
    def _options(payload: Any, labels_only: bool, interval: float | None) -> tuple[bool, float | None]:
        """``labels_only`` and ``interval`` from the query or the body (a classifier asked for an
        interval refuses it, and the core says why)."""
        in_body = payload is True or wants_labels_only(payload)
        if interval is None and payload is not True:
            interval = wanted_interval(payload)
        return labels_only or in_body, interval

    @staticmethod
    def _encode(result: PredictResult, is_csv: bool, with_ids: bool = False) -> Answer:
        headers = [request_id_header(result.request_id), *ignored_headers(result.ignored)]
        if is_csv:  # CSV has no place for the version: a header says which answered
            return Answer(
                answers.CSV_CT, answers.csv_answer_bytes(result, with_ids), [*headers, version_header(result)]
            )
        return Answer(answers.JSON_CT, answers.json_answer(result), headers)

    def _answer_row(self, body: bytes, predictor: Predictor, labels_only: bool) -> Answer | None:
        """One row, bare or as the single row of "instances", through the core's single-row shortcut;
        None leaves the body to the general path, which also words every error."""
        plain = self._plain_row(body, predictor, labels_only)
        if plain is None:
            return None
        found = self.core.single_row(predictor, plain[0])
        return None if found is None else self._row_answer(predictor, found, plain[1])

    @staticmethod
    def _plain_row(body: bytes, predictor: Predictor, labels_only: bool) -> tuple[list, bool] | None:
        """The values of one row sent bare or as the single row of "instances", and ``labels_only``
        (the query's or the body's); None for anything else, or a model without a row path."""
        if predictor.row_width is None:
            return None
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError:
            return None
        if type(payload) is dict:
            rows = payload.get("instances")
            flag = payload.get("labels_only", False)
            if type(rows) is not list or len(rows) != 1 or type(flag) is not bool:
                return None
            if len(payload) != 1 + ("labels_only" in payload):
                return None
            payload, labels_only = rows[0], labels_only or flag
        if type(payload) is not list:
            return None
        return payload, labels_only

    @staticmethod
    def _row_answer(predictor: Predictor, found: tuple[int, list[float], str], labels_only: bool) -> Answer:
        index, probabilities, request_id = found
        body = answers.json_row_answer(predictor, index, None if labels_only else probabilities, request_id)
        return Answer(answers.JSON_CT, body, [request_id_header(request_id)])

    def _decode(self, body: bytes, is_csv: bool, predictor: Predictor) -> tuple[Batch, Any]:
        """A validated batch and the decoded JSON body (for its options), or True when a big numeric
        body said ``labels_only`` (its options are read without Python objects); big numeric bodies
        skip Python objects."""
        if not body.strip():
            raise MalformedBodyError('the body is empty; send a row, {"instances": [...]} or CSV')
        schema = predictor.schema
        if is_csv:
            from tabserve.service.protocols.tabserve.csv_codec import check_csv_width

            check_csv_width(body, schema)
        if schema.all_numeric and len(body) >= NUMERIC_CODEC_MIN_BYTES:
            if is_csv:
                matrix, labels_only = parse_numeric_csv(body, schema.names), False
            else:
                matrix, labels_only = parse_numeric_json(body, schema.names) or (None, False)
            if matrix is not None:
                self.core.check_rows(len(matrix))
                return Batch(len(matrix), matrix, None), labels_only or None
        if is_csv:
            from tabserve.service.protocols.tabserve.csv_codec import read_csv_payload

            payload: Any = read_csv_payload(body, schema)
        else:
            payload = decode_json(body)
        return self.core.rows(predictor, payload), payload
