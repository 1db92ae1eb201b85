"""`tabserve serve`: the HTTP service for the configured models."""

from __future__ import annotations

import argparse
from typing import Any

from tabserve.cli import common


def register(commands: Any, parent: argparse.ArgumentParser) -> None:
    parser = commands.add_parser(
        "serve",
        parents=[parent],
        help="run the HTTP service",
        description="Serve the production versions over HTTP (options override the config's server section).",
    )
    parser.add_argument("--host")
    parser.add_argument("--port", type=int)
    parser.add_argument("--workers", type=int)
    parser.add_argument("--model", dest="models", action="append", help="serve this model (repeatable)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tabserve.config import load_settings, validate_overrides
    from tabserve.service.server import run_server

    keys = ("host", "port", "workers", "models")
    flags = {key: getattr(args, key) for key in keys if getattr(args, key) is not None}
    settings = validate_overrides(load_settings(args.config), {"server": flags}, origin="command line")
    run_server(settings, config_path=args.config)
    return common.EXIT_OK
