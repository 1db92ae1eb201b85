"""What every command shares: exit codes, the common options, loading settings."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tabserve.config import Settings

# 2: what was typed is wrong (options, arguments, config); 1: the command ran and failed.
EXIT_OK, EXIT_RUNTIME, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """A command-line argument is wrong: exit 2, like argparse's own errors."""


def common_options(suppress: bool) -> argparse.ArgumentParser:
    """Options accepted before or after the subcommand; the subcommand's copy never resets them."""
    common = argparse.ArgumentParser(add_help=False)
    extra = {"default": argparse.SUPPRESS} if suppress else {}
    common.add_argument(
        "-c",
        "--config",
        metavar="FILE",
        help="YAML or JSON config file (default: $TABSERVE_CONFIG, else the built-in iris config)",
        **extra,
    )
    common.add_argument("--debug", action="store_true", help="show tracebacks", **extra)
    common.add_argument("-v", "--verbose", action="store_true", help="log to the terminal too", **extra)
    return common


def load(args: argparse.Namespace) -> Settings:
    """The settings of ``--config`` (plus environment), with logging set up from them."""
    from tabserve.config import load_settings
    from tabserve.logs import configure_logging

    settings = load_settings(args.config)
    configure_logging(settings.logging, stderr_level="DEBUG" if args.verbose else "WARNING")
    return settings
