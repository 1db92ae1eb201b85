"""The `tabserve` command: one module per command group, registered in COMMANDS.

Exit codes: 0 ok, 1 runtime error, 2 usage or config error. Errors are one
line on stderr; ``--debug`` shows the traceback.

Only argparse is imported to build the parser; each command imports what it
needs when it runs, so ``--help`` and the registry commands start fast.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from tabserve.cli.common import EXIT_RUNTIME, EXIT_USAGE, UsageError, common_options

__all__ = ["COMMANDS", "build_parser", "main"]

# Adding a command: a module here with `register(commands, common)`, and its name in this tuple.
COMMANDS = (
    "train",
    "predict",
    "score",
    "visualise",
    "models",
    "register",
    "data",
    "feedback",
    "serve",
    "registry",
)

DESCRIPTION = "From a scikit-learn notebook to a versioned, served classifier."


def build_parser() -> argparse.ArgumentParser:
    """The whole command line; each command module adds its own subparser."""
    parser = argparse.ArgumentParser(
        prog="tabserve",
        description=DESCRIPTION,
        epilog="Exit codes: 0 ok, 1 the command failed, 2 a usage or config error. "
        "Run 'tabserve COMMAND --help' for the options of each command.",
        parents=[common_options(suppress=False)],
    )
    parser.add_argument("--version", action=_VersionAction, help="show tabserve's version and exit")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    common = common_options(suppress=True)
    for name in COMMANDS:
        importlib.import_module(f"tabserve.cli.{name}").register(commands, common)
    return parser


class _VersionAction(argparse.Action):
    """``--version``, looking the version up only when asked (it costs an import)."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs: object) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, help=kwargs.get("help"))

    def __call__(self, parser: argparse.ArgumentParser, *args: object, **kwargs: object) -> None:
        from importlib.metadata import version

        print(f"tabserve {version('tabserve')}")
        parser.exit()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code (and `tabserve` exits with it)."""
    from tabserve.errors import ConfigError, TabserveError

    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except UsageError as exc:
        if args.debug:
            raise
        print(f"tabserve: usage error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ConfigError as exc:
        if args.debug:
            raise
        print(f"tabserve: config error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except TabserveError as exc:
        if args.debug:
            raise
        print(f"tabserve: error: {exc}", file=sys.stderr)
        if exc.local_hint:
            print(f"tabserve: {exc.local_hint}", file=sys.stderr)
        return EXIT_RUNTIME
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `tabserve ... | head`: the reader left; say nothing more
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_RUNTIME
    except Exception as exc:
        if args.debug:
            raise
        print(
            f"tabserve: unexpected error: {type(exc).__name__}: {exc} (rerun with --debug)", file=sys.stderr
        )
        return EXIT_RUNTIME
