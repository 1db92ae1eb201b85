"""Timestamps as people and programs read them: ISO 8601 UTC in JSON, local time on a terminal.

The registry stores epoch seconds (a float is the same in every database);
these are the only two ways tabserve shows one.
"""

from __future__ import annotations

from datetime import UTC, datetime


def iso_utc(epoch: float | None) -> str | None:
    """``2026-11-29T04:03:00.412Z`` (None stays None), for JSON answers."""
    if epoch is None:
        return None
    moment = datetime.fromtimestamp(epoch, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def local_time(epoch: float) -> str:
    """``2026-11-29 05:03`` in the machine's time zone, for CLI listings."""
    return datetime.fromtimestamp(epoch).astimezone().strftime("%Y-%m-%d %H:%M")
