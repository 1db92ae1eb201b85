"""`tabserve score`: a registry version scores whole tables into a resumable output, chunk by chunk."""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

from tabserve.cli import common


def register(commands: Any, parent: argparse.ArgumentParser) -> None:
    parser = commands.add_parser(
        "score",
        parents=[parent],
        help="score tables (CSV, Parquet, SQL; local or S3) into an output",
        description="Score the sources in the config's score section (or --input) with the production "
        "version of the model (or --model-version N), chunk by chunk, writing one part per input "
        "partition. Rows that fail validation go to the rejects with the reason. Rerunning with the "
        "same output skips the partitions already finished.",
    )
    parser.add_argument("--model", metavar="NAME", help="the registry model (default: the config's model)")
    parser.add_argument("--model-version", type=int, metavar="N", help="default: the production version")
    parser.add_argument(
        "--input",
        action="append",
        metavar="PATH",
        help="a CSV or Parquet file, folder or glob (repeatable); replaces score.sources",
    )
    parser.add_argument("--output", metavar="FOLDER", help="write part files here; replaces score.sink")
    parser.add_argument(
        "--format",
        choices=("parquet", "csv"),
        default="parquet",
        help="with --output: the part files' format",
    )
    parser.add_argument("--rejects", metavar="FOLDER", help="rejected rows (default: OUTPUT/_rejects)")
    parser.add_argument("--key-columns", metavar="A,B", help="input columns copied to each answer")
    parser.add_argument("--chunk-rows", type=int, metavar="N", help="rows read and scored at a time")
    parser.add_argument("--interval", type=float, metavar="COVERAGE", help="regression: interval coverage")
    parser.add_argument("--dask-address", metavar="tcp://HOST:PORT", help="score on this Dask scheduler")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.set_defaults(func=run)


def _input_source(path: str) -> dict[str, str]:
    """A --input path as a score source; its format from the name, or from a folder's files."""
    lowered = path.lower().rstrip("/")
    if lowered.endswith((".parquet", ".pq", ".parquet*", "*.parquet", "*.pq")):
        return {"source": "parquet", "path": path}
    if lowered.endswith((".csv", "*.csv", ".csv.gz")):
        return {"source": "csv", "path": path}
    if os.path.isdir(os.path.expanduser(path)):
        for _, _, names in os.walk(os.path.expanduser(path)):
            if any(n.lower().endswith((".parquet", ".pq")) for n in names):
                return {"source": "parquet", "path": path}
        return {"source": "csv", "path": path}
    raise common.UsageError("--input: name a .csv or .parquet file, a folder of them, or a glob ending so")


def _settings(args: argparse.Namespace) -> Any:
    from tabserve.config import validate_overrides

    settings = common.load(args)
    score: dict[str, Any] = {}
    if args.input:
        score["sources"] = [_input_source(p) for p in args.input]
    if args.output:
        score["sink"] = {"format": args.format, "path": args.output}
    if args.rejects:
        score["rejects"] = args.rejects
    if args.key_columns is not None:
        score["key_columns"] = [c.strip() for c in args.key_columns.split(",") if c.strip()]
    if args.chunk_rows is not None:
        score["chunk_rows"] = args.chunk_rows
    if args.dask_address:
        score["dask_address"] = args.dask_address
    overrides: dict[str, Any] = {"score": score}
    if args.model:
        overrides["model"] = args.model
    settings = validate_overrides(settings, overrides, origin="the command line")
    if not settings.score.sources:
        raise common.UsageError("nothing to score: give --input PATH or score.sources in the config")
    if settings.score.sink is None:
        raise common.UsageError("no output: give --output FOLDER or score.sink in the config")
    return settings


def run(args: argparse.Namespace) -> int:
    from tabserve.cli.train import ProgressPrinter
    from tabserve.errors import NoModelError
    from tabserve.scoring.runner import ScoreJob
    from tabserve.scoring.runner import run as run_scoring

    settings = _settings(args)
    from tabserve.registry import open_registry

    registry = open_registry(settings, existing=True)
    try:
        version = args.model_version or registry.serving_version(settings.model)
        registry.get(settings.model, version)  # an unknown version fails here, before any work
    except NoModelError as exc:
        raise NoModelError(f"{exc}; train one with `tabserve train`") from None
    finally:
        registry.close()
    score = settings.score
    assert score.sink is not None
    job = ScoreJob(
        registry=settings.registry.model_dump(),
        model=settings.model,
        version=version,
        sink=score.sink.model_dump(),
        rejects=score.rejects,
        key_columns=tuple(score.key_columns),
        chunk_rows=score.chunk_rows,
        interval=args.interval,
    )
    progress = ProgressPrinter(label="scoring", unit="partitions done")
    summary = run_scoring(job, score.sources, score.sql_partition_rows, score.dask_address, progress)
    if args.json:
        print(json.dumps(summary.as_dict()))
    else:
        print(
            f"model {summary.model} version {summary.version}: {summary.scored} rows scored, "
            f"{summary.rejected} rejected ({summary.partitions} partition(s), {summary.skipped} already done)"
        )
    return common.EXIT_OK
