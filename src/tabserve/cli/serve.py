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
    parser.add_argument("--host", help="address to bind (default: server.host, 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port to bind (default: server.port, 5000)")
    parser.add_argument(
        "--grpc-port",
        type=int,
        metavar="N",
        help="also serve the Open Inference Protocol over gRPC on this port (default: server.grpc_port, off)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="server processes sharing the port (default: server.workers, 1)",
    )
    parser.add_argument(
        "--model",
        dest="models",
        action="append",
        metavar="NAME",
        help="serve this model; repeat for several, the first is the default (default: server.models)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tabserve.config import load_settings, validate_overrides
    from tabserve.service.http.server import run_server

    keys = ("host", "port", "grpc_port", "workers", "models")
    flags = {key: getattr(args, key) for key in keys if getattr(args, key) is not None}
    settings = validate_overrides(load_settings(args.config), {"server": flags}, origin="command line")
    run_server(settings, config_path=args.config)
    return common.EXIT_OK
