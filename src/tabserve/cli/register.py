"""`tabserve register`: a model fitted elsewhere (a skops file) or an exported folder, as a new version."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from tabserve.cli import common


def register(commands: Any, parent: argparse.ArgumentParser) -> None:
    parser = commands.add_parser(
        "register",
        parents=[parent],
        help="register a skops model file or an exported version folder",
        description=(
            "Store a classifier fitted elsewhere (saved with skops.io.dump) as the next version of a "
            "model, with the schema from --sample and metrics from --test; or register a folder "
            "written by tabserve models export."
        ),
    )
    parser.add_argument("path", metavar="FILE.skops|DIR", help="a skops model file or an export folder")
    parser.add_argument("--name", help="registry model name (default: the config's model; a folder's own)")
    parser.add_argument("--sample", metavar="CSV", help="rows of the model's input: the feature schema")
    parser.add_argument("--test", metavar="CSV", help="hold-out rows with the label column, for metrics")
    parser.add_argument("--target", metavar="COL", help="the label column of --test (dropped from --sample)")
    parser.add_argument("--description", help="a line saying what this version is")
    promote = parser.add_mutually_exclusive_group()
    promote.add_argument(
        "--promote", dest="promote", action="store_true", default=None, help="make it production"
    )
    promote.add_argument("--no-promote", dest="promote", action="store_false", help="leave production as is")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tabserve.errors import ConfigError

    settings = common.load(args)
    path = Path(args.path)
    if path.is_dir():
        if args.sample or args.test or args.target:
            raise ConfigError(
                "register: a folder carries its own schema and metrics; drop --sample/--test/--target"
            )
        return _import_folder(args, settings, path)
    if not path.is_file():
        raise ConfigError(f"register: {path} is neither a skops file nor an export folder")
    if not args.sample:
        raise ConfigError("register: give --sample CSV (a few rows of the model's input) with a model file")
    if bool(args.test) != bool(args.target):
        raise ConfigError("register: --test needs --target (the label column), and --target needs --test")
    return _register_file(args, settings, path)


def _import_folder(args: argparse.Namespace, settings: Any, path: Path) -> int:
    from tabserve.exchange import import_version
    from tabserve.registry import open_registry

    registry = open_registry(settings)
    try:
        stored = import_version(
            registry, path, name=args.name, promote=args.promote, auto_promote=settings.registry.auto_promote
        )
        _report(
            stored.model, stored.version, stored.promoted, registry.get(stored.model, stored.version).metrics
        )
        if not stored.promoted:
            print(f"production unchanged: {stored.promotion}")
    finally:
        registry.close()
    return common.EXIT_OK


def _register_file(args: argparse.Namespace, settings: Any, path: Path) -> int:
    from tabserve.api import register
    from tabserve.data import read_csv
    from tabserve.errors import DataError
    from tabserve.registry.serialization import load_model

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DataError(f"register: cannot read {path} ({exc.strerror})") from None
    model = load_model(data, f"register: {path}", tuple(settings.registry.trusted_types))
    sample = read_csv(args.sample)
    x_test = y_test = None
    if args.test:
        test = read_csv(args.test)
        if args.target not in test.columns:
            raise DataError(f"register: --target '{args.target}' is not a column of {args.test}")
        x_test, y_test = test.drop(columns=args.target), test[args.target]
    if args.target and args.target in sample.columns:
        sample = sample.drop(columns=args.target)
    result = register(
        model,
        name=args.name or settings.model,
        X_sample=sample,
        X_test=x_test,
        y_test=y_test,
        registry=settings,
        promote=args.promote,
        description=args.description,
    )
    _report(result.name, result.version, result.promoted, result.metrics)
    if not result.promoted:
        print(f"production unchanged: {result.promotion}")
    return common.EXIT_OK


def _report(model: str, version: int, promoted: bool, metrics: dict[str, Any]) -> None:
    print(f"model {model} version {version}" + (" (production)" if promoted else ""))
    if metrics.get("accuracy") is not None:
        print(f"hold-out accuracy: {metrics['accuracy']:.4f}  macro F1: {metrics['f1_macro']:.4f}")
    else:
        print("no hold-out metrics (give --test and --target)")
    print(f"serving: {metrics.get('serving')}")
    if "probabilities" not in metrics.get("outputs", ["probabilities"]):
        from tabserve.registry.records import NO_PROBABILITIES

        print(f"probabilities: {NO_PROBABILITIES}")
