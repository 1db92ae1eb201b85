"""Canary releases: a candidate version takes a share of a model's production traffic, then is
promoted, stopped, or aborted by a rule.

The state is a row in the registry (``registry/canary_queries.py``), so every
server following the registry follows the same canary, as it follows the
``production`` alias. Starting one first proves the candidate answers its smoke
prediction (smoke.py); promoting one moves production through
``tabserve.promotion`` like any other promotion (its gates included, as actor
``canary``). Each start and end also sets or removes the model's ``canary``
alias, so the alias history records who began and ended it, and why (an
automatic abort as actor ``abort``). The CLI, HTTP routes and the server's
automatic abort all go through here.
"""

from __future__ import annotations

import logging

from tabserve.errors import ConflictError, InputError, IntegrityError, NotFoundError
from tabserve.promotion import promote as promote_version
from tabserve.registry import ModelStore
from tabserve.registry.canary_queries import CanaryRecord
from tabserve.smoke import SmokeTestError, load_checked

log = logging.getLogger(__name__)

MIN_WEIGHT, MAX_WEIGHT = 1, 99
CANARY_ALIAS = "canary"
ABORT_ACTOR = "abort"
ABORT_REASON = "automatic abort"


def check_weight(weight: object) -> int:
    """A canary's share of traffic: a whole percent from 1 to 99 (InputError naming ``weight``)."""
    if type(weight) is not int or not MIN_WEIGHT <= weight <= MAX_WEIGHT:
        raise InputError(
            f"weight must be a whole percent from {MIN_WEIGHT} to {MAX_WEIGHT} "
            "(the candidate's share of traffic)"
        )
    return weight


def start(registry: ModelStore, model: str, version: int, weight: int, actor: str = "cli") -> CanaryRecord:
    """Send ``weight`` percent of ``model``'s production traffic to ``version``, once it answered its
    smoke prediction; a running canary of the same version takes the new weight."""
    check_weight(weight)
    registry.get(model, version)  # NotFoundError naming the version
    if registry.serving_version(model) == version:  # the alias's version, or the newest with none set
        raise ConflictError(
            f"model '{model}' version {version} is production already; a canary needs another"
        )
    try:
        load_checked(registry, model, version)
    except IntegrityError as exc:
        raise ConflictError(f"{exc}; no canary started") from None
    except SmokeTestError as exc:
        raise SmokeTestError(f"{exc}; no canary started") from None
    record = registry.metadata.start_canary(model, version, weight, actor)
    registry.metadata.set_alias(
        model, version, CANARY_ALIAS, actor=actor, reason=f"canary at {weight}% of production traffic"
    )
    log.info("%s: canary of version %d at %d%% of production traffic (%s)", model, version, weight, actor)
    return record


def running(registry: ModelStore, model: str, version: int | None = None) -> CanaryRecord:
    """The model's running canary (of ``version``, when given); NotFoundError saying there is none."""
    current = registry.metadata.active_canary(model)
    if current is None or (version is not None and current.version != version):
        which = "a canary" if version is None else f"a canary of version {version}"
        raise NotFoundError(f"model '{model}' has no {which} running")
    return current


def promote(registry: ModelStore, model: str, version: int, actor: str = "cli") -> CanaryRecord:
    """Make the canary's candidate production (through the promotion rules) and end the canary."""
    running(registry, model, version)
    why = f"canary promoted by {actor}"
    promote_version(registry, model, version, actor=CANARY_ALIAS, reason=why)
    ended = registry.metadata.end_canary(model, "promoted", why, version)
    if ended is None:
        raise ConflictError(f"model '{model}': the canary of version {version} ended meanwhile")
    registry.metadata.remove_alias(model, CANARY_ALIAS, actor=actor, reason="promoted to production")
    log.info("%s: canary of version %d promoted to production (%s)", model, version, actor)
    return ended


def stop(
    registry: ModelStore, model: str, version: int | None = None, actor: str = "cli", reason: str = ""
) -> CanaryRecord:
    """End the canary: all traffic goes back to production."""
    current = running(registry, model, version)
    why = reason or f"stopped by {actor}"
    ended = registry.metadata.end_canary(model, "stopped", why, current.version)
    if ended is None:
        raise NotFoundError(f"model '{model}': the canary of version {current.version} ended meanwhile")
    registry.metadata.remove_alias(model, CANARY_ALIAS, actor=actor, reason=why)
    log.info("%s: canary of version %d stopped: %s", model, current.version, why)
    return ended


def abort(registry: ModelStore, model: str, version: int, reason: str) -> CanaryRecord | None:
    """End the canary of ``version`` because a rule says so (None when it had ended already); the
    alias history says "automatic abort" with the rule's reason and figures."""
    ended = registry.metadata.end_canary(model, "aborted", reason, version)
    if ended is not None:
        registry.metadata.remove_alias(
            model, CANARY_ALIAS, actor=ABORT_ACTOR, reason=f"{ABORT_REASON}: {reason}"
        )
        log.warning("%s: canary of version %d aborted: %s", model, version, reason)
    return ended
