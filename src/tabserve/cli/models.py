"""`tabserve models`: list, show, promote and roll back registered versions; the alias history."""

from __future__ import annotations

import argparse
import json
from typing import Any

from tabserve.cli import common

ACTIONS = {
    "list": "every version, newest last, with its aliases and scores",
    "show": "one VERSION in full, as JSON",
    "promote": "make VERSION the production one",
    "rollback": "give production back to the version it had before",
    "history": "every alias move, newest first: who, when, why, forced or not (--json, --limit)",
    "export": "write VERSION's files, schema and metadata to a folder (-o DIR) for tabserve register",
}
NEEDS_VERSION = ("show", "promote", "export")
MOVES = ("promote", "rollback")
MAX_LIMIT = 10_000


def register(commands: Any, parent: argparse.ArgumentParser) -> None:
    parser = commands.add_parser(
        "models",
        parents=[parent],
        help="list, show, promote, roll back",
        description="Look at and move the versions of a registered model.",
    )
    parser.add_argument(
        "action",
        choices=ACTIONS,
        metavar="ACTION",
        help="; ".join(f"{name}: {what}" for name, what in ACTIONS.items()),
    )
    parser.add_argument("version", nargs="?", type=int, metavar="VERSION", help="for show and promote")
    parser.add_argument("--model", help="registry model name (default: the config's model)")
    parser.add_argument("-o", "--output", metavar="DIR", help="export: a new or empty folder to write")
    parser.add_argument(
        "--force",
        action="store_true",
        help="promote, rollback: override refusing promotion gates (recorded; never the smoke prediction)",
    )
    parser.add_argument("--reason", default="", help="promote, rollback: why, recorded in the history")
    parser.add_argument("--json", action="store_true", help="history: print JSON")
    parser.add_argument(
        "--limit", type=int, default=50, metavar="N", help="history: the N newest moves (default: 50)"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tabserve.timefmt import local_time

    if args.action in NEEDS_VERSION and args.version is None:
        raise common.UsageError(f"models {args.action} needs a VERSION number")
    if args.action not in NEEDS_VERSION and args.version is not None:
        raise common.UsageError(f"models {args.action} takes no VERSION (got {args.version})")
    if (args.force or args.reason) and args.action not in MOVES:
        raise common.UsageError(
            f"models {args.action} takes no --force or --reason (promote and rollback do)"
        )
    if not 1 <= args.limit <= MAX_LIMIT:
        raise common.UsageError(f"--limit: 1 to {MAX_LIMIT} (got {args.limit})")
    settings = common.load(args)
    from tabserve.registry import open_registry

    registry = open_registry(settings, existing=True)  # never create one to read or move aliases
    try:
        model = args.model or settings.model
        if args.action == "list":
            records = registry.versions(model)
            if not records:
                print(f"model {model} has no versions; run `tabserve train`")
            for record in records:
                tags = f" [{', '.join(record.aliases)}]" if record.aliases else ""
                if record.is_regression:
                    holdout = f"hold-out rmse {_score(record.metrics.get('rmse'))}"
                else:
                    holdout = f"hold-out acc {_score(record.metrics.get('accuracy'))}"
                print(
                    f"v{record.version}{tags}  {local_time(record.created_at)}  "
                    f"{record.estimator} {json.dumps(record.params)}  "
                    f"cv {_score(record.metrics.get('cv_score'))}  {holdout}"
                )
        elif args.action == "show":
            record = registry.get(model, args.version)
            print(json.dumps(record.detail(), indent=2))
        elif args.action == "export":
            from tabserve.cli.export import export

            export(registry, model, args.version, args.output)
        elif args.action == "promote":
            from tabserve.promotion import promote

            version = args.version
            promote(registry, model, version, actor="cli", reason=args.reason, force=args.force)
            print(f"{model} production -> v{version}")
        elif args.action == "history":
            from tabserve.cli.history import print_history

            print_history(registry.history(model, limit=args.limit), model, as_json=args.json)
        else:
            from tabserve.promotion import rollback

            version = rollback(registry, model, actor="cli", reason=args.reason, force=args.force)
            print(f"{model} production -> v{version} (rolled back)")
    finally:
        registry.close()
    return common.EXIT_OK


def _score(value: float | None) -> str:
    """A metric for the listing; '-' where a version has none (registered without hold-out rows)."""
    return "-" if value is None else f"{value:.4f}"
