"""Moving production: the one promotion rule, the gates, and no alias move to a version that cannot
predict.

Train, ``tabserve.register`` and import decide with ``settle`` (the first version of a model
becomes production; later ones as the caller says, else when ``auto_promote`` is on and the
hold-out score is at least production's). ``promote`` and ``rollback`` (CLI, HTTP, console, Python,
a canary's end) move the alias. Every move first passes the configured gates (gates.py: a refusal
is a GateRefusedError naming each gate and its figures, which ``force`` overrides when the config
allows it), then loads the version as a server would and runs its smoke prediction (smoke.py),
which nothing overrides. The move is recorded with who asked (``actor``), why, and whether a gate
was overridden.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from tabserve.config_promotion import PromotionSettings
from tabserve.errors import ConflictError, GateRefusedError, IntegrityError
from tabserve.gates import Refusal, refusals
from tabserve.registry import PRODUCTION, ModelStore, VersionRecord
from tabserve.registry.records import checked_reason
from tabserve.smoke import SmokeTestError, check_files, load_checked

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Settled:
    """What ``settle`` did with a stored version: whether it is production now, and why (or why not)."""

    promoted: bool
    why: str


def promote(
    registry: ModelStore,
    model: str,
    version: int,
    files: dict[str, bytes] | None = None,
    *,
    actor: str = "cli",
    reason: str = "",
    force: bool = False,
) -> None:
    """Point production at ``version`` once it passed the gates and answered its smoke prediction.

    ``files``: the version's files as just written (their hashes computed while writing), so a
    version stored a moment ago is checked without reading them back. ``force`` overrides refusing
    gates (recorded with the move), never the smoke prediction.
    """
    reason = checked_reason(reason)
    record = registry.get(model, version)
    overridden = _pass_gates(registry, record, _production(registry, model), force, "promoted")
    try:
        if files is None:
            load_checked(registry, model, version)
        else:
            check_files(record, files, registry.trusted_types)
    except IntegrityError as exc:
        raise ConflictError(f"{exc}; not promoted") from None
    except SmokeTestError as exc:
        raise SmokeTestError(f"{exc}; not promoted") from None
    registry.promote(
        model,
        version,
        checked=True,
        actor=actor,
        reason=_recorded(reason, overridden),
        forced=bool(overridden),
    )


def rollback(
    registry: ModelStore, model: str, *, actor: str = "cli", reason: str = "", force: bool = False
) -> int:
    """Give production back to the version it had before, once that version passed the gates that
    apply to a rollback and answered its smoke prediction; the version production points at now."""
    reason = checked_reason(reason)
    target = registry.rollback_target(model)
    record = registry.get(model, target)
    overridden = _pass_gates(registry, record, None, force, "rolled back to it", rollback=True)
    try:
        load_checked(registry, model, target)
    except IntegrityError as exc:
        raise ConflictError(f"{exc}; not rolled back") from None
    except SmokeTestError as exc:
        raise SmokeTestError(f"{exc}; not rolled back") from None
    return registry.rollback(
        model,
        checked_target=target,
        actor=actor,
        reason=_recorded(reason, overridden),
        forced=bool(overridden),
    )


def _production(registry: ModelStore, model: str) -> VersionRecord | None:
    current = registry.metadata.alias_version(model, PRODUCTION)
    return None if current is None else registry.get(model, current)


def _pass_gates(
    registry: ModelStore,
    record: VersionRecord,
    production: VersionRecord | None,
    force: bool,
    verb: str,
    *,
    rollback: bool = False,
) -> list[Refusal]:
    """The refusals ``force`` overrides (empty: every gate passed); GateRefusedError otherwise."""
    rules = registry.gates or PromotionSettings()
    found = refusals(rules, record, production, rollback=rollback)
    if not found:
        return []
    figures = "; ".join(str(refusal) for refusal in found)
    names = [refusal.gate for refusal in found]
    if force and rules.allow_force:
        log.warning("model '%s' version %d: forced past %s", record.model, record.version, figures)
        return found
    if rules.allow_force:
        hint = "a token holder may override it with force: CLI --force, HTTP ?force=true"
    else:
        hint = "promotion.allow_force is off, so no one may override it"
    raise GateRefusedError(
        f"model '{record.model}' version {record.version}: {figures}; not {verb} ({hint})",
        names,
        overridable=rules.allow_force,
    )


def _recorded(reason: str, overridden: list[Refusal]) -> str:
    if not overridden:
        return reason
    forced = "forced past " + "; ".join(str(refusal) for refusal in overridden)
    return f"{reason} ({forced})" if reason else forced


def settle(
    registry: ModelStore,
    model: str,
    version: int,
    holdout_score: float | None,
    *,
    promote_now: bool | None,
    auto_promote: bool,
    files: dict[str, bytes] | None = None,
    actor: str = "train",
) -> Settled:
    """Promote a just-stored version if the rule says so and the gates let it; what happened, and why.

    The first version of a model becomes production; a later one when ``promote_now`` says so, or
    (``promote_now`` None) when ``auto_promote`` is on and it scores at least production's hold-out
    score. A version the rule picks that a gate refuses stays unpromoted (the answer says which gate
    and why), unless ``promote_now`` asked for it: then GateRefusedError. A version that fails its
    smoke prediction always raises.
    """
    wanted, why = _wanted(registry, model, holdout_score, promote_now, auto_promote)
    if not wanted:
        log.info("%s version %d not promoted: %s", model, version, why)
        return Settled(False, why)
    try:
        promote(registry, model, version, files, actor=actor, reason=why)
    except GateRefusedError as exc:
        if promote_now:
            raise GateRefusedError(
                f"{exc} (version {version} is stored)", exc.gates, overridable=exc.overridable
            ) from None
        log.info("%s version %d not promoted: %s", model, version, exc)
        return Settled(False, str(exc))
    return Settled(True, why)


def _wanted(
    registry: ModelStore,
    model: str,
    holdout_score: float | None,
    promote_now: bool | None,
    auto_promote: bool,
) -> tuple[bool, str]:
    current = registry.metadata.alias_version(model, PRODUCTION)
    if current is None:
        return True, "the model's first version to serve"
    if promote_now is not None:
        return (
            promote_now,
            "asked to promote it" if promote_now else f"asked to keep production version {current}",
        )
    if not auto_promote:
        return False, f"registry.auto_promote is off: production stays version {current}"
    if holdout_score is None:
        return False, f"no hold-out score to compare with production version {current}"
    baseline = registry.get(model, current).metrics.get("holdout_score") or 0.0
    if holdout_score >= baseline:
        return True, f"hold-out {holdout_score:.4f} is at least production version {current}'s {baseline:.4f}"
    return (
        False,
        f"hold-out {holdout_score:.4f} is below production version {current}'s {baseline:.4f}",
    )
