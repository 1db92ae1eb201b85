"""Background tasks that cannot die silently: a death is logged, counted and shown on /readyz."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from tabserve.service.predict.state import ServiceState

log = logging.getLogger(__name__)


async def supervise(state: ServiceState, name: str, run: Callable[[], Awaitable[None]]) -> None:
    """Run a task that should run forever; if it ends for any reason but shutdown, say so loudly.

    It is not restarted: a task that broke once would likely break again, and a
    503 on /readyz (with the reason) lets the orchestrator replace the process.
    """
    try:
        await run()
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        log.critical("background task %s died; /readyz now answers 503", name, exc_info=exc)
        state.task_died(name, f"{type(exc).__name__}: {str(exc)[:200]}")
    else:
        log.critical("background task %s ended without an error; /readyz now answers 503", name)
        state.task_died(name, "it ended")


def start(state: ServiceState, tasks: dict[str, Callable[[], Awaitable[None]]]) -> list[asyncio.Task]:
    """Start each named task under ``supervise``."""
    return [asyncio.create_task(supervise(state, name, run), name=name) for name, run in tasks.items()]
