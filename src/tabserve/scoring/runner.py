"""Plan the partitions, skip the finished ones, score the rest here or on Dask workers, and sum up."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

from tabserve.config import ScoreSource
from tabserve.errors import DataError
from tabserve.scoring.answers import score_chunk
from tabserve.scoring.partitions import Partition, plan
from tabserve.scoring.readers import chunks
from tabserve.scoring.rows import as_frame
from tabserve.scoring.sinks import Sink
from tabserve.scoring.work import ScoreJob, load_predictor, score_partition

__all__ = ["ScoreJob", "Summary", "run"]

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]


@dataclass
class Summary:
    """A run in numbers: partitions (finished ones skipped), rows scored and rejected (earlier runs too)."""

    model: str
    version: int
    partitions: int = 0
    skipped: int = 0
    scored: int = 0
    rejected: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _check_markers(finished: dict[str, dict[str, Any]], job: ScoreJob) -> None:
    other = next(
        (m for m in finished.values() if (m.get("model"), m.get("version")) != (job.model, job.version)), None
    )
    if other is not None:
        raise DataError(
            f"score: the output already holds answers of model {other.get('model')} version "
            f"{other.get('version')}; give a new output to score with {job.model} version {job.version}"
        )


def _prepare(sink: Sink, job: ScoreJob, first: Partition, predictor: Any) -> None:
    """Let the sink create its tables from a sample of answers before any partition writes."""
    import pandas as pd

    from tabserve.scoring.answers import REJECT_COLUMNS

    reading = chunks(first, min(job.chunk_rows, 1000), job.s3_endpoint_url)
    try:
        sample = next(reading, None)
    finally:
        reading.close()  # the rest of the partition is never read: close its cursor now
    if sample is None:
        return
    sample = as_frame(sample)
    sample.columns = [str(c) for c in sample.columns]
    result = score_chunk(sample, predictor, first.id, 0, list(job.key_columns), job.interval)
    rejects = pd.DataFrame({"partition": ["x"], "row": [0], "reason": ["x"]})[REJECT_COLUMNS]
    sink.prepare(result.answers.frame(), rejects)


def run(
    job: ScoreJob,
    sources: list[ScoreSource],
    sql_partition_rows: int,
    dask_address: str | None = None,
    progress: Progress | None = None,
    rows: Progress | None = None,
) -> Summary:
    """Score every unfinished partition of ``sources`` into the job's sink.

    ``progress(done, total)`` hears partitions; ``rows(scored, rejected)`` the rows so far, after
    each chunk here (after each partition on Dask), earlier runs' finished partitions included.
    """
    partitions = plan(sources, list(job.key_columns), sql_partition_rows, job.s3_endpoint_url)
    sink = job.open_sink()
    finished = sink.finished()
    _check_markers(finished, job)
    summary = Summary(job.model, job.version, partitions=len(partitions))
    pending = []
    for partition in partitions:
        marker = finished.get(partition.id)
        if marker is None:
            pending.append(partition)
            continue
        summary.skipped += 1
        summary.scored += int(marker.get("scored", 0))
        summary.rejected += int(marker.get("rejected", 0))
    total = len(partitions)
    if progress is not None:
        progress(summary.skipped, total)
    if not pending:
        return summary
    predictor = load_predictor(job) if dask_address is None or job.sink.get("format") == "sql" else None
    if job.sink.get("format") == "sql":
        _prepare(sink, job, pending[0], predictor)
    else:
        sink.prepare()
    done = summary.skipped

    def chunk_done(scored: int, rejected: int) -> None:
        if rows is not None:
            rows(summary.scored + scored, summary.rejected + rejected)

    for marker in _markers(job, pending, sink, predictor, dask_address, chunk_done):
        summary.scored += marker["scored"]
        summary.rejected += marker["rejected"]
        done += 1
        chunk_done(0, 0)
        if progress is not None:
            progress(done, total)
    return summary


def _markers(
    job: ScoreJob,
    pending: list[Partition],
    sink: Sink,
    predictor: Any,
    dask_address: str | None,
    on_chunk: Progress,
) -> Iterator[dict[str, Any]]:
    if dask_address is None:
        for partition in pending:
            yield score_partition(job, partition, predictor, sink, on_chunk)
        return
    from tabserve.scoring.on_dask import score_on_cluster

    yield from score_on_cluster(dask_address, job, pending)
