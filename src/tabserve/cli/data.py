"""`tabserve data`: load training data into a SQL table; export logged predictions (export_predictions.py)."""

from __future__ import annotations

import argparse
from typing import Any

from tabserve.cli import common, export_predictions


def register(commands: Any, parent: argparse.ArgumentParser) -> None:
    data = commands.add_parser(
        "data",
        parents=[parent],
        help="load training data into SQL; export logged predictions",
        description="Put training data into a SQL database, for data.source: sql; or export the "
        "prediction log as the next training set.",
    )
    actions = data.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    load = actions.add_parser(
        "load",
        parents=[parent],
        help="create and fill a table",
        description="Create a table and fill it with iris or a CSV file's rows. The database must exist.",
    )
    load.add_argument(
        "--from",
        dest="source",
        required=True,
        metavar="iris|FILE.csv",
        help="the built-in iris or a CSV file",
    )
    load.add_argument(
        "--to", required=True, metavar="URL", help="SQLAlchemy URL, e.g. mysql+pymysql://root@127.0.0.1/test"
    )
    load.add_argument("--table", required=True, metavar="NAME", help="table to create")
    load.add_argument(
        "--replace", action="store_true", help="drop and refill the table if it exists (default: refuse)"
    )
    load.set_defaults(func=run_load)
    export_predictions.register(actions, parent)


def run_load(args: argparse.Namespace) -> int:
    from tabserve.data import load_iris_frame, read_csv
    from tabserve.sql import write_table

    common.load(args)
    frame = load_iris_frame() if args.source == "iris" else read_csv(args.source)
    rows = write_table(frame, args.to, args.table, replace=args.replace)
    print(f"loaded {rows} rows into table {args.table}")
    return common.EXIT_OK
