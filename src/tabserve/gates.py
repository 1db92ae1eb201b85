"""Promotion gates: what a version must show before an alias points at it.

Each gate looks at the version's record (and production's, for the score) and either passes or
refuses with a message naming the gate and the figures. promotion.py runs them before every alias
move, whoever asks; the smoke prediction (smoke.py) runs after them and is the one check no
setting turns off and no force overrides.

A rollback returns to a version that was production before: the version's own gates (required
metrics, hold-out rows) apply to it, the score comparison with the version it replaces does not
(that version is being rolled back because it is worse than its score said).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tabserve.config_promotion import PromotionSettings
from tabserve.registry import VersionRecord

# The smoke prediction's name among the gates (in refusals and the docs); it has no setting.
SMOKE_GATE = "smoke"


@dataclass(frozen=True)
class Refusal:
    """One gate's refusal: its name (the config key) and what it found."""

    gate: str
    message: str

    def __str__(self) -> str:
        return f"gate {self.gate}: {self.message}"


def refusals(
    rules: PromotionSettings,
    candidate: VersionRecord,
    production: VersionRecord | None,
    *,
    rollback: bool = False,
) -> list[Refusal]:
    """Every configured gate that refuses ``candidate`` (empty: all pass), in the config's order."""
    found = []
    if rules.max_score_drop is not None and not rollback:
        found.append(_score_drop(rules.max_score_drop, candidate, production))
    if rules.required_metrics:
        found.append(_required_metrics(rules.required_metrics, candidate))
    if rules.min_holdout_rows:
        found.append(_holdout_rows(rules.min_holdout_rows, candidate))
    return [refusal for refusal in found if refusal is not None]


def _score_drop(allowed: float, candidate: VersionRecord, production: VersionRecord | None) -> Refusal | None:
    if production is None or production.version == candidate.version:
        return None
    baseline = _number(production.metrics.get("holdout_score"))
    if baseline is None:
        return None  # production has no hold-out score: nothing to fall below
    name = f"version {candidate.version}"
    against = f"production version {production.version}'s {baseline:.4f}"
    score = _number(candidate.metrics.get("holdout_score"))
    if score is None:
        return Refusal("max_score_drop", f"{name} has no hold-out score to compare with {against}")
    ours, theirs = candidate.metrics.get("scoring"), production.metrics.get("scoring")
    if ours and theirs and ours != theirs:
        return Refusal(
            "max_score_drop",
            f"{name} is scored by {ours}, production version {production.version} by {theirs}: "
            "their hold-out scores cannot be compared",
        )
    drop = baseline - score
    if drop <= allowed + 1e-12:
        return None
    return Refusal(
        "max_score_drop",
        f"{name}'s hold-out score {score:.4f} ({ours or 'score'}) is {drop:.4f} below {against} "
        f"(allowed: {allowed:g})",
    )


def _required_metrics(required: list[str], candidate: VersionRecord) -> Refusal | None:
    missing = [name for name in required if candidate.metrics.get(name) is None]
    if not missing:
        return None
    return Refusal(
        "required_metrics",
        f"version {candidate.version} records no {', '.join(missing)} (required: {', '.join(required)})",
    )


def _holdout_rows(minimum: int, candidate: VersionRecord) -> Refusal | None:
    rows = _number(candidate.metrics.get("holdout_rows"))
    if rows is not None and rows >= minimum:
        return None
    found = "records no hold-out rows" if rows is None else f"was scored on {int(rows)} hold-out rows"
    return Refusal("min_holdout_rows", f"version {candidate.version} {found} (required: at least {minimum})")


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
