"""Formatting helpers for the console pages: times, numbers, estimator names, hashes.

Pure functions (no I/O), registered as Jinja2 filters by ``render``.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

from tabserve.urls import redact_tree

DASH = "\u2013"  # shown where a value is missing


def iso(ts: float | None) -> str:
    """ISO 8601 in UTC, to the second: what a title attribute shows on hover."""
    if ts is None:
        return ""
    return datetime.fromtimestamp(ts, UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def ago(ts: float | None, now: float) -> str:
    """A short human phrase for how long ago ``ts`` was ("3 min ago", "2 days ago")."""
    if ts is None:
        return "never"
    seconds = max(0.0, now - ts)
    for size, unit in ((86400 * 365, "year"), (86400, "day"), (3600, "h"), (60, "min")):
        if seconds >= size:
            count = int(seconds // size)
            plural = "s" if count != 1 and unit in ("year", "day") else ""
            return f"{count} {unit}{plural} ago"
    return "just now"


def duration(start: float | None, end: float | None, now: float) -> str:
    """How long a job ran (or has been running), as "12 s" or "3 min 4 s"."""
    if start is None:
        return ""
    seconds = max(0, round((end if end is not None else now) - start))
    if seconds < 60:
        return f"{seconds} s"
    minutes, rest = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {rest} s"
    return f"{minutes // 60} h {minutes % 60} min"


def num(value: Any, digits: int = 4) -> str:
    """A metric to ``digits`` decimals; a dash when there is none."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return DASH
    if isinstance(value, int):
        return str(value)  # counts stay counts
    return f"{value:.{digits}f}"


def signed(value: Any, digits: int = 4) -> str:
    """A difference with its sign ("+0.0133", "\u22120.0200", "0")."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return DASH
    if abs(value) < 0.5 * 10**-digits:
        return "0"
    text = f"{abs(value):.{digits}f}"
    return f"+{text}" if value > 0 else f"\u2212{text}"


def short_estimator(dotted: str) -> str:
    """``sklearn.linear_model.LogisticRegression`` -> ``LogisticRegression``."""
    return dotted.rsplit(".", 1)[-1]


def params_text(params: dict[str, Any]) -> str:
    """Grid parameters as ``C=1.0, max_depth=3`` (the ``clf__`` prefix dropped)."""
    parts = []
    for key, value in params.items():
        name = key.split("__", 1)[1] if key.startswith("clf__") else key
        if name == "clf" or key == "clf":
            continue
        parts.append(f"{name}={json.dumps(value) if not isinstance(value, str) else value}")
    return ", ".join(parts) or "defaults"


def short_hash(digest: str | None, length: int = 12) -> str:
    return (digest or "")[:length]


def pretty_json(value: Any) -> str:
    """Indented JSON for config and library blocks, URL credentials masked again.

    A version's config was redacted when it was recorded; masking it again on the
    page also covers versions recorded before the masking caught every password.
    """
    return json.dumps(redact_tree(value), indent=2, sort_keys=True, default=str)


def percent(done: int, total: int) -> int:
    """Progress as a whole percentage (0 when the total is not known yet)."""
    if total <= 0:
        return 0
    return max(0, min(100, round(100 * done / total)))
