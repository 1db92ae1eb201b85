"""`tabserve models canary`: start, reweigh, promote, stop or show a model's canary release."""

from __future__ import annotations

import argparse

from tabserve.cli import common
from tabserve.errors import InputError
from tabserve.registry import ModelStore


def add_options(parser: argparse.ArgumentParser) -> None:
    """The canary's options on the `models` parser (the action is `canary`)."""
    group = parser.add_argument_group("canary (models canary [VERSION])")
    group.add_argument(
        "--weight", type=int, metavar="PERCENT", help="start or reweigh: the candidate's share, 1-99"
    )
    group.add_argument(
        "--promote", action="store_true", help="make the canary's VERSION production and end it"
    )
    group.add_argument(
        "--stop", action="store_true", help="end the running canary (all traffic to production)"
    )


def run(args: argparse.Namespace, registry: ModelStore, model: str) -> None:
    """Start (``--weight``), ``--promote`` or ``--stop`` the canary, or show it with no option."""
    from tabserve import canary

    chosen = [name for name in ("weight", "promote", "stop") if getattr(args, name) not in (None, False)]
    if len(chosen) > 1:
        raise common.UsageError(
            f"models canary takes one of --weight, --promote, --stop (got {', '.join(chosen)})"
        )
    if not chosen and args.version is not None:
        raise common.UsageError("models canary VERSION needs --weight PERCENT, --promote or --stop")
    if chosen in (["weight"], ["promote"]) and args.version is None:
        raise common.UsageError(f"models canary --{chosen[0]} needs a VERSION number")
    if args.weight is not None:
        try:
            canary.check_weight(args.weight)
        except InputError as exc:
            raise common.UsageError(f"--{exc}") from None
        record = canary.start(registry, model, args.version, args.weight, actor="cli")
        print(f"{model} canary -> v{record.version} at {record.weight}% of production traffic")
    elif args.promote:
        canary.promote(registry, model, args.version, actor="cli")
        print(f"{model} production -> v{args.version} (canary promoted)")
    elif args.stop:
        record = canary.stop(registry, model, args.version, actor="cli")
        print(f"{model} canary of v{record.version} stopped; production answers all traffic")
    else:
        current = registry.metadata.active_canary(model)
        if current is None:
            print(f"model {model} has no canary running")
        else:
            print(f"{model} canary: v{current.version} at {current.weight}% (started by {current.actor})")
        for past in registry.metadata.canary_history(model, limit=5):
            if not past.active:
                print(f"  v{past.version} at {past.weight}%: {past.outcome}: {past.reason}")
