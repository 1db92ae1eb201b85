"""What every command shares: exit codes, the common options, loading settings, the registry."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tabserve.config import Settings
    from tabserve.registry import Registry

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


def open_registry(settings: Settings, existing: bool = False) -> Registry:
    """The configured registry, without importing training code.

    ``existing``: for commands that only read or move aliases. A SQLite
    registry that is not there is an error naming the URL, not a new empty
    database, and one that is there is read without SQLAlchemy (start-up time).
    """
    from tabserve.registry import Registry

    if existing:
        missing = _missing_sqlite_file(settings.registry.url)
        if missing is not None:
            from tabserve.errors import NoModelError

            raise NoModelError(
                f"no registry at {settings.registry.url} ({missing} does not exist): "
                "train a model first with `tabserve train`, or give the config that names the registry"
            )
    return Registry.from_settings(settings.registry, quick=existing)


def _missing_sqlite_file(url: str) -> Path | None:
    """The file a ``sqlite:///`` URL names if it does not exist, else None (any other URL: None)."""
    from tabserve.registry.sqlite_direct import plain_sqlite_path

    plain = plain_sqlite_path(url)
    if plain is not None:
        return None if plain.exists() else plain
    if not url.startswith("sqlite"):
        return None
    import sqlalchemy as sa  # an in-memory database or one with options: SQLAlchemy's parser decides

    parsed = sa.make_url(url)
    if not parsed.drivername.startswith("sqlite") or parsed.database in (None, "", ":memory:"):
        return None
    path = Path(parsed.database)
    return None if path.exists() else path
