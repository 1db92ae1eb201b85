"""One partition's work, the same here and on a Dask worker.

A Dask worker receives the job's plain settings and a partition, never a model:
it loads the version from the registry by reference (every file's sha256
checked, as any load does) and writes its own part, so the output is the one a
local run writes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pandas as pd

from tabserve.config import RegistrySettings, ScoreSink
from tabserve.schema import FeatureSchema
from tabserve.scoring.answers import score_chunk
from tabserve.scoring.overlap import prefetched
from tabserve.scoring.partitions import Partition
from tabserve.scoring.readers import chunks
from tabserve.scoring.rows import as_frame, check_columns, split_arrow, split_chunk
from tabserve.scoring.sinks import Sink, open_sink

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ScoreJob:
    """Everything a partition needs, as plain values a Dask worker can rebuild from."""

    registry: dict[str, Any]
    model: str
    version: int
    sink: dict[str, Any]
    rejects: str | None = None
    key_columns: tuple[str, ...] = ()
    chunk_rows: int = 50_000
    interval: float | None = None

    @property
    def s3_endpoint_url(self) -> str | None:
        return self.registry.get("s3_endpoint_url")

    def open_sink(self) -> Sink:
        return open_sink(ScoreSink(**self.sink), self.rejects, self.s3_endpoint_url)


def load_predictor(job: ScoreJob) -> Any:
    """The job's version, loaded from the registry by reference (files checked against their sha256)."""
    from tabserve.predictor import Predictor
    from tabserve.registry import ModelStore

    config = RegistrySettings(**job.registry)
    registry = ModelStore.open(
        config.url, config.artifacts, config.s3_endpoint_url, tuple(config.trusted_types)
    )
    try:
        return Predictor.load(registry, job.model, job.version)
    finally:
        registry.close()


def _validated(partition: Partition, job: ScoreJob, schema: FeatureSchema) -> Iterator[tuple]:
    """Each chunk checked and split into valid rows and rejects (on the reading thread); its first row.

    An Arrow chunk is split without pandas when it can be; otherwise it becomes a DataFrame first,
    so every reject's reason is worded in one place.
    """
    row = 0
    needed = set(schema.names) | set(job.key_columns)
    for chunk in chunks(partition, job.chunk_rows, job.s3_endpoint_url, needed):
        if isinstance(chunk, pd.DataFrame):
            if not all(isinstance(c, str) for c in chunk.columns):
                chunk.columns = [str(c) for c in chunk.columns]
            names = list(chunk.columns)
        else:
            names = chunk.schema.names
        check_columns(names, schema, list(job.key_columns))
        split = None if isinstance(chunk, pd.DataFrame) else split_arrow(chunk, schema)
        if split is None:
            chunk = as_frame(chunk)
            split = split_chunk(chunk, schema, row)
        yield chunk, split, row
        row += len(chunk)


def score_partition(
    job: ScoreJob,
    partition: Partition,
    predictor: Any,
    sink: Sink,
    on_chunk: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Score one partition chunk by chunk into its part, then mark it done; returns the marker.

    ``on_chunk(scored, rejected)`` hears the partition's counts so far after each chunk.
    """
    writer = sink.part(partition.id)
    scored = rejected = row = 0
    frames = prefetched(_validated(partition, job, predictor.schema))
    try:
        for frame, split, first in frames:
            result = score_chunk(
                frame, predictor, partition.id, first, list(job.key_columns), job.interval, split
            )
            writer.write(result.answers, result.rejects)
            scored += len(result.answers)
            rejected += len(result.rejects)
            row = first + len(frame)
            if on_chunk is not None:
                on_chunk(scored, rejected)
    except BaseException:
        frames.close()  # stops the reading thread before the part goes
        writer.abort()
        raise
    marker = {"partition": partition.id, "model": job.model, "version": job.version}
    marker |= {"rows": row, "scored": scored, "rejected": rejected}
    writer.commit(marker)
    log.info("scored partition %s: %d rows, %d rejected", partition.id, scored, rejected)
    return marker


_WORKER_PREDICTORS: dict[tuple, Any] = {}


def score_on_worker(partition: Partition, job: ScoreJob) -> dict[str, Any]:
    """A Dask task: load (once per worker process) the version by reference, score one partition."""
    key = (job.registry.get("url"), job.registry.get("artifacts"), job.model, job.version)
    if key not in _WORKER_PREDICTORS:
        _WORKER_PREDICTORS.clear()
        _WORKER_PREDICTORS[key] = load_predictor(job)
    return score_partition(job, partition, _WORKER_PREDICTORS[key], job.open_sink())
