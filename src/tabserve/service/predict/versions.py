"""Non-production versions loaded on demand for version predicts, least recently used evicted.

A production version is never held here (its slot holds it), so the bound is
on the extra memory version predicts can cost: ``server.max_loaded_versions``
models at most. Loading happens in a worker thread, once per version even when
many requests ask for it together.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tabserve.predictor import Predictor
    from tabserve.registry import ModelStore

log = logging.getLogger(__name__)


class LoadedVersions:
    """An LRU of ``(model, version) -> Predictor`` with at most ``capacity`` entries."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._items: OrderedDict[tuple[str, int], Predictor] = OrderedDict()
        self._loading: dict[tuple[str, int], asyncio.Future[Predictor]] = {}

    def __len__(self) -> int:
        return len(self._items)

    def keys(self) -> list[tuple[str, int]]:
        """What is loaded, least recently used first (for tests and the console)."""
        return list(self._items)

    async def get(self, registry: ModelStore, model: str, version: int) -> Predictor:
        """The loaded version, loading it (in a thread) if needed; registry errors propagate."""
        key = (model, version)
        found = self._items.get(key)
        if found is not None:
            self._items.move_to_end(key)
            return found
        pending = self._loading.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[Predictor] = asyncio.get_running_loop().create_future()
        self._loading[key] = future
        try:
            predictor = await asyncio.to_thread(_load, registry, model, version)
        except Exception as exc:
            future.set_exception(exc)
            future.exception()  # retrieved here, so a load nobody else waited for is not reported twice
            raise
        except BaseException:  # cancelled: the waiters try again themselves
            future.cancel()
            raise
        finally:
            del self._loading[key]
        future.set_result(predictor)
        self._keep(key, predictor)
        return predictor

    def _keep(self, key: tuple[str, int], predictor: Predictor) -> None:
        if self.capacity == 0:
            return
        self._items[key] = predictor
        while len(self._items) > self.capacity:
            evicted, _ = self._items.popitem(last=False)
            log.info("unloaded %s version %d (least recently used)", *evicted)


def _load(registry: ModelStore, model: str, version: int) -> Predictor:
    from tabserve.predictor import Predictor

    return Predictor.load(registry, model, version)
