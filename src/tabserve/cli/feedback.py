"""`tabserve feedback FILE.csv`: ground truth from a terminal, joined to the prediction log by id.

The same join and the same counts as ``POST /models/{name}/feedback``, against
the registry database the config names (where the server logs its predictions).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from tabserve.cli import common

MEDIA_BY_SUFFIX = {".csv": "text/csv", ".json": "application/json", ".jsonl": "application/x-ndjson"}


def register(commands: Any, common_parser: argparse.ArgumentParser) -> None:
    parser = commands.add_parser(
        "feedback",
        parents=[common_parser],
        help="send ground truth (id, actual) for logged predictions",
        description="Join actual outcomes to logged predictions by the ids their answers carried "
        "(monitoring.log_predictions must be on in the server). FILE is CSV with id and actual "
        "columns, a JSON list of {id, actual} records (.json) or JSON lines (.jsonl).",
    )
    parser.add_argument("file", metavar="FILE", help="the records: .csv, .json or .jsonl")
    parser.add_argument("--model", help="registry model name (default: the config's model)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tabserve.errors import InputError
    from tabserve.monitoring.feedback import FeedbackStore
    from tabserve.monitoring.feedback_records import read_records
    from tabserve.registry.metadata import MetadataStore

    path = Path(args.file)
    media = MEDIA_BY_SUFFIX.get(path.suffix.lower())
    if media is None:
        raise common.UsageError(f"{path.name}: expected a .csv, .json or .jsonl file")
    try:
        body = path.read_bytes()
    except OSError as exc:
        raise common.UsageError(f"cannot read {path.name}: {exc.strerror}") from None
    try:
        records = read_records(body, media)
    except InputError as exc:
        raise common.UsageError(f"{path.name}: {exc}") from None
    settings = common.load(args)
    model = args.model or settings.model
    store = MetadataStore(settings.registry.url)
    try:
        report = FeedbackStore(lambda: store, settings.monitoring.retention_days).record(model, records)
    finally:
        store.close()
    print(json.dumps({"model": model, **report.as_dict()}))
    return common.EXIT_OK
