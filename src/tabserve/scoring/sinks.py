"""Where a partition's answers go: a part file per partition (local or S3 folder) or a SQL table.

A partition is finished only when its done-marker exists, and the marker is
written last: after the part file is renamed into place or uploaded whole, or
in the same transaction as the partition's rows. A part left half-written by a
killed run has no marker, so the next run writes it again from the start.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

from tabserve.config import ScoreSink
from tabserve.errors import DataError
from tabserve.scoring import s3
from tabserve.scoring.answer_columns import Answers
from tabserve.scoring.overlap import BackgroundCalls
from tabserve.scoring.part_files import PartFile

DONE = "_done"
log = logging.getLogger(__name__)


class PartWriter(Protocol):
    def write(self, answers: Answers, rejects: pd.DataFrame) -> None: ...

    def commit(self, marker: dict[str, Any]) -> None: ...

    def abort(self) -> None: ...


class Sink(Protocol):
    def finished(self) -> dict[str, dict[str, Any]]: ...

    def prepare(self, sample: pd.DataFrame | None = None, rejects: pd.DataFrame | None = None) -> None: ...

    def part(self, partition_id: str) -> PartWriter: ...


class FolderSink:
    """``part-<id>.<csv|parquet>`` files and ``_done/<id>.json`` markers in a folder or under ``s3://``."""

    def __init__(self, path: str, fmt: str, rejects: str | None, s3_endpoint_url: str | None) -> None:
        self.remote = path.startswith("s3://")
        self.root = path.rstrip("/") if self.remote else os.path.abspath(os.path.expanduser(path))
        self.fmt = fmt
        default = f"{self.root}/_rejects"
        self.rejects_root = (rejects or default).rstrip("/")
        self.endpoint = s3_endpoint_url

    def finished(self) -> dict[str, dict[str, Any]]:
        markers: dict[str, dict[str, Any]] = {}
        if self.remote:
            for url in s3.list_matching(f"{self.root}/{DONE}/", self.endpoint):
                text = s3.get_text(url, self.endpoint)
                if text is not None:
                    markers[url.rsplit("/", 1)[-1].removesuffix(".json")] = json.loads(text)
            return markers
        folder = Path(self.root) / DONE
        if folder.is_dir():
            for path in folder.glob("*.json"):
                markers[path.stem] = json.loads(path.read_text())
        return markers

    def prepare(self, sample: pd.DataFrame | None = None, rejects: pd.DataFrame | None = None) -> None:
        if not self.remote:
            (Path(self.root) / DONE).mkdir(parents=True, exist_ok=True)

    def part(self, partition_id: str) -> PartWriter:
        return _FolderPart(self, partition_id)


class _FolderPart:
    def __init__(self, sink: FolderSink, partition_id: str) -> None:
        self.sink = sink
        self.id = partition_id
        staging = None if sink.remote else Path(sink.root)
        if staging is not None:
            staging.mkdir(parents=True, exist_ok=True)
        self.tmp = Path(tempfile.mkdtemp(prefix=".partial-", dir=staging))
        self.answers = PartFile(self.tmp / f"part.{sink.fmt}", sink.fmt)
        self.rejects = PartFile(self.tmp / "rejects.csv", "csv")
        self.calls = BackgroundCalls()

    def write(self, answers: Answers, rejects: pd.DataFrame) -> None:
        """Written on the part's own thread while the next chunk is scored (an error surfaces at the
        next write or at commit)."""
        self.calls.submit(self._write, answers, rejects)

    def _write(self, answers: Answers, rejects: pd.DataFrame) -> None:
        if len(answers):
            self.answers.write(answers)
        if len(rejects):
            self.rejects.write(rejects)

    def commit(self, marker: dict[str, Any]) -> None:
        try:
            self.calls.close()
        except BaseException:
            self.abort()
            raise
        self.answers.close()
        self.rejects.close()
        sink, name = self.sink, f"part-{self.id}"
        answers_to = f"{sink.root}/{name}.{sink.fmt}"
        rejects_to = f"{sink.rejects_root}/rejects-{self.id}.csv"
        done_to = f"{sink.root}/{DONE}/{self.id}.json"
        text = json.dumps(marker, sort_keys=True)
        try:
            if sink.remote:
                _publish_remote(self.answers.path, answers_to, sink.endpoint)
                _publish_remote(self.rejects.path, rejects_to, sink.endpoint, rejects_to.startswith("s3://"))
                (self.tmp / "done.json").write_text(text)
                s3.put_text(done_to, text, sink.endpoint)
            else:
                _publish_local(self.answers.path, answers_to)
                _publish_local(self.rejects.path, rejects_to)
                (self.tmp / "done.json").write_text(text)
                _publish_local(self.tmp / "done.json", done_to)
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def abort(self) -> None:
        try:
            self.calls.close()
        except Exception:  # the part is thrown away for an error the caller raises already
            log.debug("a write of aborted part %s failed", self.id, exc_info=True)
        self.answers.close()
        self.rejects.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


def _publish_local(source: Path, target: str) -> None:
    """Rename a finished file into place (replacing a stale one), or remove a stale one if there is none."""
    if source.exists():
        Path(target).parent.mkdir(parents=True, exist_ok=True)
        os.replace(source, target)
    else:
        Path(target).unlink(missing_ok=True)


def _publish_remote(source: Path, target: str, endpoint: str | None, remote: bool = True) -> None:
    if not remote:
        _publish_local(source, target)
    elif source.exists():
        s3.upload(source, target, endpoint)
    else:
        s3.delete(target, endpoint)


def open_sink(sink: ScoreSink, rejects: str | None, s3_endpoint_url: str | None) -> Sink:
    """The sink the settings name; a SQL sink keeps its rejects in ``<table>_rejects``."""
    if sink.format == "sql":
        from tabserve.scoring.sql_sink import SqlSink

        if rejects:
            raise DataError("score.rejects: a SQL sink keeps its rejects in the table <table>_rejects")
        assert sink.url is not None and sink.table is not None
        return SqlSink(sink.url, sink.table)
    assert sink.path is not None
    return FolderSink(sink.path, sink.format, rejects, s3_endpoint_url)
