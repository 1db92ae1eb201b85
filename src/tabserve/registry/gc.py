"""Artifact files no version refers to: left by a process killed between upload and metadata row.

``ModelStore.register`` uploads a version's files, then writes the row that
makes them a version; a SIGKILL in between leaves files nobody will read.
They are found by comparing the store's keys with every version's recorded
keys, and only files older than a minimum age count, so a registration in
progress (files up, row not yet written) is never taken for one.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from tabserve.registry import ModelStore

log = logging.getLogger(__name__)

MIN_AGE_S = 3600.0


@dataclass(frozen=True)
class Orphan:
    key: str
    age_s: float


def find_orphans(registry: ModelStore, min_age_s: float = MIN_AGE_S) -> list[Orphan]:
    """Stored files older than ``min_age_s`` that no version of any model lists."""
    now = time.time()
    stored = registry.artifacts.list_keys()  # listed first: a version registered after this is not missed
    referenced = {
        entry["key"]
        for model in registry.metadata.models()
        for record in registry.versions(model)
        for entry in record.artifacts.values()
    }
    return sorted(
        (
            Orphan(key, now - modified)
            for key, modified in stored
            if key not in referenced and now - modified >= min_age_s
        ),
        key=lambda orphan: orphan.key,
    )


def delete_orphans(registry: ModelStore, orphans: list[Orphan]) -> int:
    """Remove the given files; how many were removed."""
    for orphan in orphans:
        registry.artifacts.delete(orphan.key)
        log.info("registry gc: removed %s", registry.artifacts.describe(orphan.key))
    return len(orphans)
