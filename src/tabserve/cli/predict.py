"""`tabserve predict`: one row from the command line, or a CSV file of rows."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from tabserve.cli import common


def register(commands: Any, parent: argparse.ArgumentParser) -> None:
    parser = commands.add_parser(
        "predict",
        parents=[parent],
        help="predict one row or a CSV file",
        description="Predict with the production version (or --model-version N) of the configured model. "
        "Give one row's values in the model's column order ('' for a missing value, which the model "
        "imputes), or a CSV file with a header row.",
    )
    parser.add_argument("values", nargs="*", metavar="VALUE", help="one row's feature values, in order")
    parser.add_argument("--input", metavar="FILE.csv", help="CSV file of rows to predict")
    parser.add_argument(
        "--output", metavar="FILE.csv", help="with --input: write the predictions here (default: stdout)"
    )
    parser.add_argument("--json", action="store_true", help="one row: print the answer as JSON")
    parser.add_argument(
        "--model-version", type=int, metavar="N", help="use this version (default: the production one)"
    )
    parser.add_argument(
        "--interval",
        type=float,
        metavar="C",
        help="regression: also give the prediction interval at coverage C (0 < C < 1), e.g. 0.9",
    )
    parser.set_defaults(func=run)


def parse_row(values: list[str], schema: Any) -> list[Any]:
    """Command-line words as a row: a word that reads as a number becomes one where a number belongs.

    '' is a missing value (None, as a JSON null: the model imputes it). Everything
    else stays text, so parse_payload checks the row (width, types, finiteness)
    and words its errors exactly as for a JSON request.
    """
    kinds = [feature.type for feature in schema.features]
    return [
        None
        if text.strip() == ""
        else _number_or_text(text)
        if i < len(kinds) and kinds[i] == "numeric"
        else text
        for i, text in enumerate(values)
    ]


def _number_or_text(text: str) -> float | str:
    try:
        return float(text)
    except ValueError:
        return text


def run(args: argparse.Namespace) -> int:
    from tabserve.errors import InputError, NoModelError
    from tabserve.inputs import parse_payload
    from tabserve.predictor import Predictor

    if bool(args.values) == bool(args.input):
        raise common.UsageError("give one row's feature values, or --input FILE.csv (not both)")
    if args.output and not args.input:
        raise common.UsageError("--output goes with --input FILE.csv")
    settings = common.load(args)
    registry = common.open_registry(settings, existing=True)
    try:
        predictor = Predictor.load(registry, settings.model, args.model_version)
    except NoModelError as exc:
        raise NoModelError(f"{exc}; train one with `tabserve train`") from None
    finally:
        registry.close()
    if args.interval is not None:
        from tabserve.intervals import check_coverage

        try:
            check_coverage(args.interval, "--interval")
            predictor.check_interval(
                args.interval
            )  # a classifier, or no residuals: say so before reading rows
        except InputError as exc:
            raise common.UsageError(str(exc)) from None
    if args.input:
        return _predict_file(args, predictor)
    try:
        batch = parse_payload([parse_row(args.values, predictor.schema)], predictor.schema, 1)
    except InputError as exc:  # what was typed does not fit the model's columns
        raise common.UsageError(str(exc)) from None
    if predictor.is_regression:
        return _print_value(args, predictor, predictor.predict(batch, interval=args.interval))
    result = predictor.predict(batch)
    assert result.probabilities is not None
    probabilities = dict(zip(result.classes, map(float, result.probabilities[0]), strict=True))
    if args.json:
        answer = {
            "model": predictor.model,
            "version": predictor.version,
            "label": result.labels[0],
            "probabilities": probabilities,
        }
        print(json.dumps(answer))
    else:
        print(result.labels[0])
        for label, p in probabilities.items():
            print(f"  {label:<16} {p:.4f}")
    return common.EXIT_OK


def _print_value(args: argparse.Namespace, predictor: Any, result: Any) -> int:
    """One regression answer: the number, and its interval when asked for."""
    value = float(result.values[0])
    interval = result.interval
    if args.json:
        answer: dict[str, Any] = {"model": predictor.model, "version": predictor.version, "prediction": value}
        if interval is not None:
            answer["interval"] = {
                "coverage": interval.coverage,
                "lower": float(interval.lower[0]),
                "upper": float(interval.upper[0]),
            }
        print(json.dumps(answer))
    else:
        print(f"{value:.6g}")
        if interval is not None:
            print(f"  {interval.coverage:.0%} interval: {interval.lower[0]:.6g} to {interval.upper[0]:.6g}")
    return common.EXIT_OK


def _predict_file(args: argparse.Namespace, predictor: Any) -> int:
    from tabserve.data import read_csv
    from tabserve.inputs import batch_from_frame

    frame = read_csv(args.input)
    out = frame.copy()
    if predictor.is_regression:
        result = predictor.predict(batch_from_frame(frame, predictor.schema), interval=args.interval)
        out["prediction"] = result.values
        if result.interval is not None:
            out["lower"] = result.interval.lower
            out["upper"] = result.interval.upper
    else:
        result = predictor.predict(batch_from_frame(frame, predictor.schema))
        out["prediction"] = result.labels
        for i, label in enumerate(result.classes):
            out[f"proba_{label}"] = result.probabilities[:, i]
    if args.output:
        out.to_csv(args.output, index=False)
        print(f"wrote {len(out)} predictions to {args.output} (model {predictor.model} v{predictor.version})")
    else:
        out.to_csv(sys.stdout, index=False)
    return common.EXIT_OK
