"""Moving production: the one promotion rule, and no alias move to a version that cannot predict.

Train, ``tabserve.register`` and import decide with ``settle`` (the first version of a model always
becomes production; later ones as the caller says, else when ``auto_promote`` is on and the
hold-out score is at least production's). ``promote`` and ``rollback`` (CLI, HTTP, Python) move the
alias. Every move first loads the version as a server would and runs its smoke prediction
(smoke.py); a version that fails is refused with a ConflictError naming it and the error.
"""

from __future__ import annotations

import logging

from tabserve.errors import ConflictError, IntegrityError
from tabserve.registry import PRODUCTION, ModelStore
from tabserve.smoke import SmokeTestError, check_files, load_checked

log = logging.getLogger(__name__)


def promote(registry: ModelStore, model: str, version: int, files: dict[str, bytes] | None = None) -> None:
    """Point production at ``version`` once it answered its smoke prediction.

    ``files``: the version's files as just written (their hashes computed while writing), so a
    version stored a moment ago is checked without reading them back.
    """
    try:
        if files is None:
            load_checked(registry, model, version)
        else:
            check_files(registry.get(model, version), files, registry.trusted_types)
    except IntegrityError as exc:
        raise ConflictError(f"{exc}; not promoted") from None
    except SmokeTestError as exc:
        raise SmokeTestError(f"{exc}; not promoted") from None
    registry.promote(model, version, checked=True)
    log.info("%s version %d is now %s", model, version, PRODUCTION)


def rollback(registry: ModelStore, model: str) -> int:
    """Give production back to the version it had before, once that version answered its smoke
    prediction; the version production points at now."""
    target = registry.rollback_target(model)
    try:
        load_checked(registry, model, target)
    except IntegrityError as exc:
        raise ConflictError(f"{exc}; not rolled back") from None
    except SmokeTestError as exc:
        raise SmokeTestError(f"{exc}; not rolled back") from None
    return registry.rollback(model, checked_target=target)


def settle(
    registry: ModelStore,
    model: str,
    version: int,
    holdout_score: float | None,
    *,
    promote_now: bool | None,
    auto_promote: bool,
    files: dict[str, bytes] | None = None,
) -> bool:
    """Promote a just-stored version if the rule says so; whether it is production now.

    The first version of a model always becomes production; a later one when ``promote_now`` says
    so, or (``promote_now`` None) when ``auto_promote`` is on and it scores at least production's
    hold-out score. A version the rule would promote that fails its smoke prediction raises.
    """
    if _wanted(registry, model, holdout_score, promote_now, auto_promote):
        promote(registry, model, version, files)
        return True
    return False


def _wanted(
    registry: ModelStore,
    model: str,
    holdout_score: float | None,
    promote_now: bool | None,
    auto_promote: bool,
) -> bool:
    current = registry.metadata.alias_version(model, PRODUCTION)
    if current is None:
        return True
    if promote_now is not None:
        return promote_now
    if not auto_promote:
        return False
    if holdout_score is None:
        log.info("no hold-out score to compare with production v%d: keep production", current)
        return False
    baseline = registry.get(model, current).metrics.get("holdout_score") or 0.0
    better = holdout_score >= baseline
    log.info(
        "hold-out %.4f vs production v%d %.4f: %s",
        holdout_score,
        current,
        baseline,
        "promote" if better else "keep production",
    )
    return better
