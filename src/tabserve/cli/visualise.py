"""`tabserve visualise`: the pairplot of the training data, as a PNG."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from tabserve.cli import common


def register(commands: Any, parent: argparse.ArgumentParser) -> None:
    parser = commands.add_parser(
        "visualise",
        parents=[parent],
        help="draw the pairplot of the data",
        description="Draw a pairplot of the configured data, coloured by the target.",
    )
    parser.add_argument(
        "-o", "--output", default="pairplot.png", help="PNG file to write (default: %(default)s)"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tabserve.data import check_target, read_frame
    from tabserve.extras import require_drawing

    require_drawing("tabserve visualise")
    from tabserve.plots import pairplot_png

    folder = Path(args.output).resolve().parent
    if not folder.is_dir():
        raise common.UsageError(f"-o: the folder {folder} does not exist; create it or choose another")
    settings = common.load(args)
    frame = read_frame(settings.data)
    check_target(frame, settings.data.target)
    png = pairplot_png(frame, settings.data.target)
    try:
        with open(args.output, "wb") as handle:
            handle.write(png)
    except OSError as exc:
        raise common.UsageError(f"-o: cannot write {args.output}: {exc.strerror or exc}") from None
    print(f"wrote {args.output}")
    return common.EXIT_OK
