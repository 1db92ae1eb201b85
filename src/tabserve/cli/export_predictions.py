"""`tabserve data export-predictions`: the prediction log since a time, as CSV or Parquet.

Registered under `tabserve data` by ``cli/data.py``.
"""

from __future__ import annotations

import argparse
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tabserve.cli import common


def register(actions: Any, parent: argparse.ArgumentParser) -> None:
    """Add the action under ``tabserve data``."""
    export = actions.add_parser(
        "export-predictions",
        parents=[parent],
        help="write logged predictions (monitoring.log_predictions) to CSV or Parquet",
        description="Write the predictions logged since a time (monitoring.log_predictions) to a CSV or "
        "Parquet file: inputs, outputs, model, version, request id and time, ready to label and train on.",
    )
    export.add_argument("--model", help="registry model name (default: the config's model)")
    export.add_argument(
        "--since", required=True, metavar="T", help="a duration back from now (24h, 7d) or an ISO date/time"
    )
    export.add_argument(
        "-o", "--output", required=True, metavar="FILE.csv|FILE.parquet", help="where to write (by extension)"
    )
    export.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tabserve.errors import ConfigError, TabserveError
    from tabserve.monitoring.export import check_output, parse_since, read_log, write_frame
    from tabserve.monitoring.prediction_log import database_errors
    from tabserve.registry.metadata import MetadataStore
    from tabserve.urls import redact_url

    try:  # what was typed on the command line, not the config
        check_output(args.output)
        since = parse_since(args.since)
    except ConfigError as exc:
        raise common.UsageError(str(exc)) from None
    settings = common.load(args)
    model = args.model or settings.model
    store = MetadataStore(settings.registry.url)
    try:
        store.ensure_schema()
        with database_errors(store.safe_url):
            frame = read_log(store.engine, model, since)
    finally:
        store.close()
    configured = getattr(args, "config", None) or os.environ.get("TABSERVE_CONFIG")
    if frame.empty and not configured and Path(args.output).exists():
        # Without a config this read the default registry, rarely the one a server logs to.
        raise TabserveError(
            f"no predictions of model {model} are logged since {args.since} in the default registry "
            f"({redact_url(settings.registry.url)}), so {args.output} was left as it is; give -c with the "
            "config of the server that logs them"
        )
    write_frame(frame, args.output)
    when = datetime.fromtimestamp(since, UTC).isoformat(timespec="seconds")
    print(f"wrote {len(frame)} logged predictions of model {model} since {when} to {args.output}")
    return common.EXIT_OK
