"""Database URLs made safe to show: kept apart from sql.py so the server need not import pandas."""

from __future__ import annotations

import sqlalchemy as sa


def redact_url(url: str) -> str:
    """The URL with any password replaced, safe to log or show."""
    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparseable database URL>"
