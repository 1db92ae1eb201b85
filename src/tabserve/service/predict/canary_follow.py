"""Follow each served model's canary in the registry, and end it when a rule says so.

The reloader calls ``CanaryFollower.check`` for every model on each of its
rounds, after the production alias: the registry's canary row is read, the
candidate loaded (after its smoke prediction) in a worker thread, and routed to
by putting a ``CanaryRoute`` in ``state.canaries``. Whatever goes wrong (the
state cannot be read, the candidate cannot be loaded) takes the route out, so
production answers everything, and ``state.canary_problems`` says why on /readyz.

``judge_forever`` is a background task: every ``canary.evaluate_every_s`` it
reads both versions' realised figures since the canary began from the ground
truth in the registry database (when that rule is on), asks the abort rules
about each running canary's figures, and on a breach stops routing to the
candidate at once and ends the canary in the registry (so every replica
follows), logging why.
"""

from __future__ import annotations

import asyncio
import logging

from tabserve import canary as canary_story
from tabserve.errors import TabserveError
from tabserve.monitoring.canary_realised import read_realised
from tabserve.monitoring.canary_rules import RULES, judge, wants_realised
from tabserve.monitoring.canary_stats import VersionStats
from tabserve.service.predict.canary import CanaryRoute
from tabserve.service.predict.state import ModelSlot, ServiceState

log = logging.getLogger(__name__)

SERVING_PRODUCTION = "; all its traffic goes to production"


class CanaryFollower:
    """Keeps ``state.canaries`` in step with the registry's canary rows."""

    def __init__(self, state: ServiceState) -> None:
        self.state = state
        self.window = state.settings.canary.window_requests
        self._unloadable: dict[str, int] = {}  # model -> the canary id whose candidate could not load

    async def check(self, slot: ModelSlot) -> bool:
        """One look at the model's canary; True when a candidate was loaded (worth a heap freeze).
        Never raises: production serves whatever happens here."""
        name = slot.name
        state = self.state
        try:
            record = await asyncio.to_thread(state.registry.metadata.active_canary, name)
        except Exception as exc:
            public = getattr(exc, "public", None) or "the server log says why"
            if name not in state.canary_problems or name in state.canaries:
                log.warning("%s: cannot read the canary state, serving production only: %s", name, exc)
            self._drop(name, f"cannot read the canary state ({public}){SERVING_PRODUCTION}")
            return False
        production = slot.predictor
        if record is None or (production is not None and production.version == record.version):
            if name in state.canaries:
                log.info("%s: the canary ended; production answers all traffic", name)
            self._drop(name)
            self._unloadable.pop(name, None)
            return False
        current = state.canaries.get(name)
        if current is not None and current.id == record.id:
            if production is not None:
                current.track(production.version)
            if current.weight != record.weight:
                current.reweigh(record.weight)
                log.info("%s: canary of version %d now at %d%%", name, record.version, record.weight)
            state.canary_problems.pop(name, None)
            return False
        if self._unloadable.get(name) == record.id:
            return False  # known: not tried again until another canary starts
        try:
            candidate = await asyncio.to_thread(_load, state.registry, name, record.version)
        except Exception as exc:
            why = str(exc) if isinstance(exc, TabserveError) else type(exc).__name__
            log.error(
                "%s: cannot load canary version %d, serving production only: %s", name, record.version, why
            )
            self._unloadable[name] = record.id
            self._drop(
                name, f"the canary's version {record.version} cannot be loaded ({why}){SERVING_PRODUCTION}"
            )
            return False
        serving = None if production is None else production.version
        state.canaries[name] = CanaryRoute(
            record.id, candidate, record.weight, self.window, serving, since=record.started_at
        )
        state.canary_problems.pop(name, None)
        log.info(
            "%s: canary of version %d answers %d%% of production traffic", name, record.version, record.weight
        )
        return True

    def _drop(self, name: str, problem: str | None = None) -> None:
        self.state.canaries.pop(name, None)
        if problem is None:
            self.state.canary_problems.pop(name, None)
        else:
            self.state.canary_problems[name] = problem


async def judge_once(state: ServiceState) -> dict[str, str]:
    """Ask the abort rules about every running canary; the ones ended now, with why."""
    rules = state.settings.canary
    ended: dict[str, str] = {}
    for name, route in list(state.canaries.items()):
        candidate = route.stats[route.candidate.version]
        production = state.slots[name].predictor
        theirs = route.stats.get(production.version) if production is not None else None
        if theirs is not None and wants_realised(rules):
            await _read_realised(state, name, route, candidate, theirs)
        found = judge(candidate, theirs, rules)
        if found is None:
            continue
        rule, reason = found
        version = route.candidate.version
        if state.canaries.get(name) is route:
            del state.canaries[name]  # this server stops at once; the others at their next poll
        log.warning("%s: aborting the canary of version %d (rule %s): %s", name, version, rule, reason)
        try:
            await asyncio.to_thread(canary_story.abort, state.registry, name, version, reason)
        except Exception:
            log.exception("%s: could not record the canary's abort in the registry", name)
        state.metrics.count_canary_abort(name, rule)
        ended[name] = reason
    return ended


async def _read_realised(
    state: ServiceState, name: str, route: CanaryRoute, candidate: VersionStats, production: VersionStats
) -> None:
    """Both versions' labelled predictions since the canary began, onto their figures; a database
    that cannot answer leaves the last figures (the rule judges again next round)."""
    try:
        found = await asyncio.to_thread(
            read_realised,
            state.registry.metadata,
            name,
            route.since,
            (candidate.version, production.version),
        )
    except Exception as exc:
        public = getattr(exc, "public", None) or type(exc).__name__
        log.warning("%s: cannot read the canary's realised figures: %s", name, public)
        return
    candidate.realised = found.get(candidate.version)
    production.realised = found.get(production.version)


async def judge_forever(state: ServiceState) -> None:
    """The background task: ``judge_once`` every ``canary.evaluate_every_s``."""
    every = state.settings.canary.evaluate_every_s
    for name in state.slots:
        state.metrics.expect_canary_aborts(name, (rule.__name__ for rule in RULES))
    while True:
        await asyncio.sleep(every)
        await judge_once(state)


def _load(registry, model: str, version: int):  # noqa: ANN001 - runs in a thread
    from tabserve.smoke import load_checked

    return load_checked(registry, model, version)
