"""`tabserve registry gc`: list (and with --delete, remove) artifact files no version refers to."""

from __future__ import annotations

import argparse
from typing import Any

from tabserve.cli import common


def register(commands: Any, parent: argparse.ArgumentParser) -> None:
    parser = commands.add_parser(
        "registry",
        parents=[parent],
        help="registry upkeep (gc)",
        description="Upkeep of the registry's artifact store.",
    )
    parser.add_argument("action", choices=["gc"], help="gc: find files no version refers to")
    parser.add_argument("--delete", action="store_true", help="remove them (default: only list them)")
    parser.add_argument(
        "--min-age",
        type=float,
        default=3600.0,
        metavar="SECONDS",
        help="only files at least this old (default 3600), so a registration in progress is left alone",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tabserve.registry.gc import delete_orphans, find_orphans

    settings = common.load(args)
    from tabserve.registry import open_registry

    registry = open_registry(settings)
    try:
        orphans = find_orphans(registry, args.min_age)
        for orphan in orphans:
            print(f"{'removing' if args.delete else 'orphan'} {orphan.key} ({orphan.age_s / 3600:.1f} h old)")
        if args.delete:
            removed = delete_orphans(registry, orphans)
            print(f"removed {removed} file(s)")
        else:
            print(f"{len(orphans)} orphaned file(s); run with --delete to remove them")
    finally:
        registry.close()
    return common.EXIT_OK
