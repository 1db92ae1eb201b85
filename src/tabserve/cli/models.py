"""`tabserve models`: list, show, promote and roll back registered versions."""

from __future__ import annotations

import argparse
import json
from typing import Any

from tabserve.cli import common


def register(commands: Any, parent: argparse.ArgumentParser) -> None:
    parser = commands.add_parser(
        "models",
        parents=[parent],
        help="list, show, promote, roll back",
        description="Look at and move the versions of a registered model.",
    )
    parser.add_argument("action", choices=["list", "show", "promote", "rollback"])
    parser.add_argument("version", nargs="?", type=int)
    parser.add_argument("--model", help="registry model name (default: the config's model)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    settings = common.load(args)
    registry = common.open_registry(settings)
    try:
        model = args.model or settings.model
        if args.action == "list":
            records = registry.versions(model)
            if not records:
                print(f"model {model} has no versions; run `tabserve train`")
            for record in records:
                tags = f" [{', '.join(record.aliases)}]" if record.aliases else ""
                print(
                    f"v{record.version}{tags}  {record.estimator} {json.dumps(record.params)}  "
                    f"cv {_score(record.metrics.get('cv_score'))}  "
                    f"hold-out acc {_score(record.metrics.get('accuracy'))}"
                )
        elif args.action == "show":
            record = registry.get(model, _version_arg(args))
            print(json.dumps(record.detail(), indent=2))
        elif args.action == "promote":
            version = _version_arg(args)
            registry.promote(model, version)
            print(f"{model} production -> v{version}")
        else:
            version = registry.rollback(model)
            print(f"{model} production -> v{version} (rolled back)")
    finally:
        registry.close()
    return common.EXIT_OK


def _score(value: float | None) -> str:
    """A metric for the listing; '-' where a version has none (registered without hold-out rows)."""
    return "-" if value is None else f"{value:.4f}"


def _version_arg(args: argparse.Namespace) -> int:
    from tabserve.errors import ConfigError

    if args.version is None:
        raise ConfigError(f"models {args.action}: give a version number")
    return args.version
