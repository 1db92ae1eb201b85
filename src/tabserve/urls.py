"""Database URLs made safe to show: kept apart from sql.py so the server need not import pandas."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa


def redact_url(url: str) -> str:
    """The URL with any password replaced, safe to log or show."""
    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparseable database URL>"


# scheme://userinfo@ : the userinfo (a user and maybe a password, or a bare token) is what leaks.
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://)([^\s/@:]*)(:[^\s/@]*)?@")


def redact_text(text: str) -> str:
    """Any text with the credentials of every URL in it masked (``user:***@``; a bare userinfo ``***@``)."""

    def _mask(match: re.Match[str]) -> str:
        scheme, user, password = match.group(1), match.group(2), match.group(3)
        return f"{scheme}{user}:***@" if password is not None else f"{scheme}***@"

    return _USERINFO.sub(_mask, text)


def redact_tree(value: Any) -> Any:
    """A copy of a JSON-like value with every string passed through ``redact_text``."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return {key: redact_tree(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [redact_tree(item) for item in value]
    return value
