"""PNG pictures for the service: the pairplot, a confusion matrix or regression plots, cached.

A version stores both pictures, drawn when it was trained, so serving them is a
read (checked against its sha256) and a serving-only install, which has no
plotting libraries, shows them too. A version stored without them (made before
pictures were stored, or with ``registry.pictures: false``) gets them drawn here
when matplotlib is installed, once per key: the pairplot per data content hash,
a confusion matrix per version; otherwise the answer is a 404 that says so.
matplotlib is imported only when a picture is first drawn, and drawing is
serialised because pyplot is not thread-safe.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING

from tabserve.config import Settings
from tabserve.errors import NotFoundError
from tabserve.extras import HOW_TO_TRAIN, can_draw
from tabserve.service.predict.state import PictureCache

if TYPE_CHECKING:
    from tabserve.registry import ModelStore, VersionRecord

log = logging.getLogger(__name__)

RECHECK_DATA_AFTER_S = 60.0  # a big SQL table takes seconds to read: hash it at most this often
_draw_lock = threading.Lock()


def _stored(cache: PictureCache, registry: ModelStore, record: VersionRecord, kind: str) -> bytes:
    key = f"{kind}:{record.model}:{record.version}"
    png = cache.get(key)
    if png is None:
        png = registry.read_file(record, kind)  # checked against its sha256
        cache.put(key, png)
    return png


def _cannot_draw(what: str, record: VersionRecord | None) -> NotFoundError:
    stored = (
        f"model '{record.model}' version {record.version} was stored without its {what}"
        if record is not None
        else f"no model is served yet, so there is no stored {what}"
    )
    return NotFoundError(
        f"{stored}, and this install serves only: it cannot draw pictures ({HOW_TO_TRAIN}, "
        "then train a version: it stores its pictures)"
    )


def pairplot(
    cache: PictureCache, settings: Settings, record: VersionRecord | None, registry: ModelStore | None
) -> tuple[bytes, str]:
    """The pairplot PNG of the training data and that data's content hash: the one stored with
    ``record`` (the served version), else drawn from the configured data where plotting is installed."""
    if record is not None and registry is not None and "pairplot" in record.artifacts:
        return _stored(cache, registry, record, "pairplot"), record.data_hash
    if not can_draw():
        raise _cannot_draw("pairplot", record)
    from tabserve.data import check_target, content_hash, read_frame

    latest = cache.latest_pairplot
    if latest is not None and time.monotonic() - latest[2] < RECHECK_DATA_AFTER_S:
        png = cache.get(latest[0])
        if png is not None:
            return png, latest[1]
    frame = read_frame(settings.data)
    digest = content_hash(frame)
    key = f"pairplot:{settings.data.target}:{digest}"
    png = cache.get(key)
    if png is None:
        from tabserve.plots import pairplot_png

        check_target(frame, settings.data.target)
        with _draw_lock:
            png = pairplot_png(frame, settings.data.target)
        cache.put(key, png)
        log.info("drew the pairplot for data %s", digest[:12])
    cache.latest_pairplot = (key, digest, time.monotonic())
    return png, digest


def stored_pairplot(cache: PictureCache, registry: ModelStore, record: VersionRecord) -> bytes:
    """The pairplot stored with a version: drawn at training time from the rows it was trained on.

    Never drawn here: the configured data may have changed since, and this picture is that version's.
    """
    if "pairplot" not in record.artifacts:
        raise NotFoundError(
            f"model '{record.model}' version {record.version} was stored without a pairplot "
            "(trained with registry.pictures: false, or registered from a notebook)"
        )
    return _stored(cache, registry, record, "pairplot")


def regression_picture(cache: PictureCache, registry: ModelStore, record: VersionRecord, kind: str) -> bytes:
    """A regressor's hold-out picture (predicted vs actual, residual distribution), as stored with it."""
    if kind not in record.artifacts:
        what = "a regression version" if record.is_regression else "a classifier"
        raise NotFoundError(
            f"model '{record.model}' version {record.version} has no {kind.replace('_', ' ')} picture "
            f"(it is {what}; regression versions trained with registry.pictures: true store one)"
        )
    return _stored(cache, registry, record, kind)


def confusion_matrix(cache: PictureCache, registry: ModelStore, record: VersionRecord) -> bytes:
    """The hold-out confusion matrix of a version as PNG: stored with it, else drawn here."""
    if "confusion_matrix" in record.artifacts:
        return _stored(cache, registry, record, "confusion_matrix")
    key = f"confusion:{record.model}:{record.version}"
    png = cache.get(key)
    if png is None:
        matrix = record.metrics.get("confusion_matrix")
        if not matrix:
            raise NotFoundError(f"model '{record.model}' version {record.version} has no confusion matrix")
        if not can_draw():
            raise _cannot_draw("confusion matrix picture", record)
        from tabserve.plots import confusion_matrix_png

        with _draw_lock:
            png = confusion_matrix_png(
                matrix["labels"], matrix["matrix"], f"{record.model} v{record.version} hold-out"
            )
        cache.put(key, png)
    return png
