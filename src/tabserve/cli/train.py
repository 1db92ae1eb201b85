"""`tabserve train`: grid search on the configured data, register the best as a new version."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from tabserve.cli import common


def register(commands: Any, parent: argparse.ArgumentParser) -> None:
    parser = commands.add_parser(
        "train",
        parents=[parent],
        help="train and register a new version",
        description="Run the configured grid search and register the best pipeline as a new version.",
    )
    parser.add_argument(
        "--dask", metavar="tcp://HOST:PORT", help="run the grid search on this Dask scheduler"
    )
    parser.add_argument("--if-empty", action="store_true", help="train only if the model has no versions")
    parser.add_argument(
        "--allow-schema-change",
        action="store_true",
        help="register the version even if its columns, target or classes differ from the serving one",
    )
    parser.set_defaults(func=run)


class ProgressPrinter:
    """A bar on a terminal, a plain line every tenth of the way otherwise."""

    def __init__(self, stream: Any = None, label: str = "fitting", unit: str = "fits done") -> None:
        self.stream = stream or sys.stderr  # looked up now: tests and callers may have replaced it
        self.label = label
        self.unit = unit
        self.tty = self.stream.isatty()
        self.last_tenth = -1

    def __call__(self, done: int, total: int) -> None:
        if self.tty:
            width = 30
            filled = width * done // max(total, 1)
            self.stream.write(f"\r{self.label} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
            if done >= total:
                self.stream.write("\n")
            self.stream.flush()
            return
        tenth = 10 * done // max(total, 1)
        if tenth != self.last_tenth:
            self.last_tenth = tenth
            print(f"{self.unit}: {done}/{total}", file=self.stream, flush=True)


def run(args: argparse.Namespace) -> int:
    from tabserve.config import validate_overrides
    from tabserve.workflow import train_and_register

    settings = common.load(args)
    if args.if_empty and _has_versions(settings):
        print(f"model {settings.model} already has versions; not training (--if-empty)")
        return common.EXIT_OK
    if args.dask:
        search = {"backend": "dask", "dask_address": args.dask}
        settings = validate_overrides(settings, {"search": search}, origin="--dask")
    if args.allow_schema_change:
        registry_section = {"allow_schema_change": True}
        settings = validate_overrides(
            settings, {"registry": registry_section}, origin="--allow-schema-change"
        )
    outcome = train_and_register(settings, progress=ProgressPrinter())
    trained = outcome.trained
    metrics = trained.metrics
    print(f"model {settings.model} version {outcome.version}" + (" (production)" if outcome.promoted else ""))
    if not outcome.promoted:
        print(f"production unchanged: {outcome.promotion}")
    print(f"task: {metrics.get('task', 'classification')} ({metrics.get('task_reason', 'configured')})")
    tried = sum(1 for row in trained.cv_results if not row.get("rung"))  # halving: the first rung
    strategy = metrics.get("search_strategy", "grid")
    print(f"search: {strategy}, {tried} candidate{'s' if tried != 1 else ''} tried")
    print(f"best estimator: {trained.estimator} {json.dumps(trained.params)}")
    print(f"cv {metrics.get('scoring', settings.search.scoring)}: {trained.cv_score:.4f}")
    if trained.schema.is_regression:
        _print_regression(metrics)
        return common.EXIT_OK
    print(f"hold-out accuracy: {metrics['accuracy']:.4f}  macro F1: {metrics['f1_macro']:.4f}")
    for label, scores in metrics["per_class"].items():
        print(f"  {label:<16} precision {scores['precision']:.3f}  recall {scores['recall']:.3f}")
    if not hasattr(trained.pipeline, "predict_proba"):
        from tabserve.registry.records import NO_PROBABILITIES

        print(f"probabilities: {NO_PROBABILITIES}")
    return common.EXIT_OK


def _print_regression(metrics: dict[str, Any]) -> None:
    """RMSE, MAE, R², the residual quantiles and the intervals' hold-out coverage."""
    r2 = metrics.get("r2")
    print(
        f"hold-out RMSE: {metrics['rmse']:.4g}  MAE: {metrics['mae']:.4g}  "
        f"R²: {'-' if r2 is None else f'{r2:.4f}'}  ({metrics['holdout_rows']} rows)"
    )
    quantiles = "  ".join(f"q{k}: {v:.4g}" for k, v in metrics["residual_quantiles"].items())
    print(f"residuals (actual - predicted): {quantiles}")
    coverage = metrics.get("intervals", {}).get("holdout_coverage", {})
    shown = [f"{float(c):.0%} -> {v:.1%}" for c, v in coverage.items() if v is not None]
    if shown:
        print(f"interval coverage on the hold-out (leave-one-out): {', '.join(shown)}")


def _has_versions(settings: Any) -> bool:
    from tabserve.registry import open_registry

    registry = open_registry(settings)
    try:
        return registry.metadata.latest_version(settings.model) is not None
    finally:
        registry.close()
