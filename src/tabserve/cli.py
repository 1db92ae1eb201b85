"""The `tabserve` command: train, predict, visualise, models, data load, serve.

Exit codes: 0 ok, 2 usage or config error, 1 runtime error. Errors are one
line on stderr; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from typing import Any

from tabserve.config import Settings, load_settings, validate_overrides
from tabserve.errors import ConfigError, InputError, TabserveError

log = logging.getLogger(__name__)

EXIT_OK, EXIT_RUNTIME, EXIT_USAGE = 0, 1, 2


def _settings(args: argparse.Namespace) -> Settings:
    from tabserve.logs import configure_logging

    settings = load_settings(args.config)
    configure_logging(settings.logging, stderr_level="DEBUG" if args.verbose else "WARNING")
    return settings


class ProgressPrinter:
    """A bar on a terminal, a plain line every tenth of the way otherwise."""

    def __init__(self, stream: Any = sys.stderr) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.last_tenth = -1

    def __call__(self, done: int, total: int) -> None:
        if self.tty:
            width = 30
            filled = width * done // max(total, 1)
            self.stream.write(f"\rfitting [{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
            if done >= total:
                self.stream.write("\n")
            self.stream.flush()
            return
        tenth = 10 * done // max(total, 1)
        if tenth != self.last_tenth:
            self.last_tenth = tenth
            print(f"fits done: {done}/{total}", file=self.stream, flush=True)


def cmd_train(args: argparse.Namespace) -> int:
    from tabserve.workflow import train_and_register

    settings = _settings(args)
    if args.if_empty and _has_versions(settings):
        print(f"model {settings.model} already has versions; not training (--if-empty)")
        return EXIT_OK
    if args.dask:
        search = {"backend": "dask", "dask_address": args.dask}
        settings = validate_overrides(settings, {"search": search}, origin="--dask")
    outcome = train_and_register(settings, progress=ProgressPrinter())
    trained = outcome.trained
    metrics = trained.metrics
    print(f"model {settings.model} version {outcome.version}" + (" (production)" if outcome.promoted else ""))
    print(f"best estimator: {trained.estimator} {json.dumps(trained.params)}")
    print(f"cv {settings.search.scoring}: {trained.cv_score:.4f}")
    print(f"hold-out accuracy: {metrics['accuracy']:.4f}  macro F1: {metrics['f1_macro']:.4f}")
    for label, scores in metrics["per_class"].items():
        print(f"  {label:<16} precision {scores['precision']:.3f}  recall {scores['recall']:.3f}")
    return EXIT_OK


def _has_versions(settings: Settings) -> bool:
    from tabserve.workflow import open_registry

    registry = open_registry(settings)
    try:
        return registry.metadata.latest_version(settings.model) is not None
    finally:
        registry.close()


def _parse_row(values: list[str], schema: Any) -> list[Any]:
    if len(values) != len(schema.names):
        raise InputError(
            f"expected {len(schema.names)} values ({', '.join(schema.names)}), got {len(values)}"
        )
    row: list[Any] = []
    for feature, text in zip(schema.features, values, strict=True):
        if feature.type == "numeric":
            try:
                row.append(float(text))
            except ValueError:
                raise InputError(f"column '{feature.name}': expected a number, got {text!r}") from None
        else:
            row.append(text)
    return row


def cmd_predict(args: argparse.Namespace) -> int:
    from tabserve.inputs import parse_payload
    from tabserve.predictor import Predictor
    from tabserve.workflow import open_registry

    settings = _settings(args)
    if bool(args.values) == bool(args.input):
        raise ConfigError("predict: give feature values, or --input FILE.csv (not both)")
    registry = open_registry(settings)
    try:
        predictor = Predictor.load(registry, settings.model, args.version)
    finally:
        registry.close()
    if args.input:
        return _predict_file(args, predictor)
    batch = parse_payload([_parse_row(args.values, predictor.schema)], predictor.schema, 1)
    result = predictor.predict(batch)
    assert result.probabilities is not None
    probabilities = dict(zip(result.classes, map(float, result.probabilities[0]), strict=True))
    if args.json:
        print(
            json.dumps(
                {
                    "model": predictor.model,
                    "version": predictor.version,
                    "label": result.labels[0],
                    "probabilities": probabilities,
                }
            )
        )
    else:
        print(result.labels[0])
        for label, p in probabilities.items():
            print(f"  {label:<16} {p:.4f}")
    return EXIT_OK


def _predict_file(args: argparse.Namespace, predictor: Any) -> int:
    from tabserve.data import read_csv
    from tabserve.inputs import batch_from_frame

    frame = read_csv(args.input)
    result = predictor.predict(batch_from_frame(frame, predictor.schema))
    out = frame.copy()
    out["prediction"] = result.labels
    for i, label in enumerate(result.classes):
        out[f"proba_{label}"] = result.probabilities[:, i]
    if args.output:
        out.to_csv(args.output, index=False)
        print(f"wrote {len(out)} predictions to {args.output} (model {predictor.model} v{predictor.version})")
    else:
        out.to_csv(sys.stdout, index=False)
    return EXIT_OK


def cmd_visualise(args: argparse.Namespace) -> int:
    from tabserve.data import read_frame
    from tabserve.plots import pairplot_png

    settings = _settings(args)
    frame = read_frame(settings.data)
    if settings.data.target not in frame.columns:
        raise ConfigError(f"data.target: column '{settings.data.target}' is not in the table")
    with open(args.output, "wb") as handle:
        handle.write(pairplot_png(frame, settings.data.target))
    print(f"wrote {args.output}")
    return EXIT_OK


def cmd_models(args: argparse.Namespace) -> int:
    from tabserve.workflow import open_registry

    settings = _settings(args)
    registry = open_registry(settings)
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
                    f"cv {record.metrics['cv_score']:.4f}  hold-out acc {record.metrics['accuracy']:.4f}"
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
    return EXIT_OK


def _version_arg(args: argparse.Namespace) -> int:
    if args.version is None:
        raise ConfigError(f"models {args.action}: give a version number")
    return args.version


def cmd_data_load(args: argparse.Namespace) -> int:
    from tabserve.data import load_iris_frame, read_csv
    from tabserve.sql import write_table

    _settings(args)
    frame = load_iris_frame() if args.source == "iris" else read_csv(args.source)
    rows = write_table(frame, args.to, args.table, replace=args.replace)
    print(f"loaded {rows} rows into table {args.table}")
    return EXIT_OK


def cmd_serve(args: argparse.Namespace) -> int:
    from tabserve.service.server import run_server

    keys = ("host", "port", "workers", "models")
    flags = {key: getattr(args, key) for key in keys if getattr(args, key) is not None}
    settings = validate_overrides(load_settings(args.config), {"server": flags}, origin="command line")
    run_server(settings, config_path=args.config)
    return EXIT_OK


def _common_options(suppress: bool) -> argparse.ArgumentParser:
    """Options accepted before or after the subcommand; the subcommand's copy never resets them."""
    common = argparse.ArgumentParser(add_help=False)
    extra = {"default": argparse.SUPPRESS} if suppress else {}
    common.add_argument("-c", "--config", help="YAML or JSON config file (default: built-in iris)", **extra)
    common.add_argument("--debug", action="store_true", help="show tracebacks", **extra)
    common.add_argument("-v", "--verbose", action="store_true", help="log to the terminal too", **extra)
    return common


def build_parser() -> argparse.ArgumentParser:
    common = _common_options(suppress=True)
    parser = argparse.ArgumentParser(
        prog="tabserve", description=__doc__.splitlines()[0], parents=[_common_options(suppress=False)]
    )
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", parents=[common], help="train and register a new version")
    train.add_argument("--dask", metavar="tcp://HOST:PORT", help="run the grid search on this Dask scheduler")
    train.add_argument("--if-empty", action="store_true", help="train only if the model has no versions")
    train.set_defaults(func=cmd_train)

    predict = commands.add_parser("predict", parents=[common], help="predict one row or a CSV file")
    predict.add_argument("values", nargs="*", help="feature values in schema order")
    predict.add_argument("--input", help="CSV file of rows to predict")
    predict.add_argument("--output", help="where to write the predictions CSV (default: stdout)")
    predict.add_argument("--json", action="store_true", help="print JSON")
    predict.add_argument("--version", type=int, help="model version (default: production)")
    predict.set_defaults(func=cmd_predict)

    visualise = commands.add_parser("visualise", parents=[common], help="draw the pairplot of the data")
    visualise.add_argument("-o", "--output", default="pairplot.png", help="PNG file to write")
    visualise.set_defaults(func=cmd_visualise)

    models = commands.add_parser("models", parents=[common], help="list, show, promote, roll back")
    models.add_argument("action", choices=["list", "show", "promote", "rollback"])
    models.add_argument("version", nargs="?", type=int)
    models.add_argument("--model", help="registry model name (default: the config's model)")
    models.set_defaults(func=cmd_models)

    data = commands.add_parser("data", parents=[common], help="put training data into SQL")
    data_commands = data.add_subparsers(dest="data_command", required=True)
    load = data_commands.add_parser("load", parents=[common], help="create and fill a table")
    load.add_argument("--from", dest="source", required=True, metavar="iris|FILE.csv")
    load.add_argument("--to", required=True, metavar="URL", help="SQLAlchemy URL")
    load.add_argument("--table", required=True)
    load.add_argument("--replace", action="store_true", help="overwrite an existing table")
    load.set_defaults(func=cmd_data_load)

    serve = commands.add_parser("serve", parents=[common], help="run the HTTP service")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--workers", type=int)
    serve.add_argument("--model", dest="models", action="append", help="serve this model (repeatable)")
    serve.set_defaults(func=cmd_serve)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code (and `tabserve` exits with it)."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ConfigError as exc:
        if args.debug:
            raise
        print(f"tabserve: config error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except TabserveError as exc:
        if args.debug:
            raise
        print(f"tabserve: error: {exc}", file=sys.stderr)
        return EXIT_RUNTIME
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        if args.debug:
            raise
        print(
            f"tabserve: unexpected error: {type(exc).__name__}: {exc} (rerun with --debug)", file=sys.stderr
        )
        return EXIT_RUNTIME


if __name__ == "__main__":
    sys.exit(main())
