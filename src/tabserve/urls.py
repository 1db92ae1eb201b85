"""URLs made safe to show: kept apart from sql.py so the server need not import pandas.

A URL's secrets are its password (``user:secret@``) and query parameters named
like one (``?password=``, ``?token=``, ``?sslkey=``). Passwords hold anything a
user can type, ``/``, ``:``, ``?``, ``%2F`` and even a raw ``@`` among them, so
masking never stops at the first delimiter: a whole URL is parsed by SQLAlchemy's
``make_url`` and the userinfo of any URL in free text runs to the last ``@``
before the URL ends (a host never contains one).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

MASK = "***"

# A URL in free text: a scheme, then everything up to whitespace, a quote or an angle bracket.
_URL = re.compile(r"(?i)\b[a-z][a-z0-9+.\-]*://[^\s'\"<>`]*")
# A query parameter whose name says it holds a secret; its value runs to the next & ; # or the end.
_SECRET_PARAM = re.compile(
    r"(?i)([?&;][^=&;#?]*(?:pass|pwd|token|secret|key|credential|auth|signature)[^=&;#?]*=)[^&;#]*"
)


def redact_url(url: str) -> str:
    """The URL with its password and any password-like query parameter masked, safe to log or show."""
    try:
        rendered = sa.make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparseable database URL>"
    return _mask_one(rendered, bare_user_is_secret=False)


def redact_text(text: str) -> str:
    """Any text with the credentials of every URL in it masked (``user:***@``; a bare userinfo ``***@``)."""
    return _URL.sub(lambda match: _mask_one(match.group(0)), text)


def redact_tree(value: Any) -> Any:
    """A copy of a JSON-like value with every string passed through ``redact_text``."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return {key: redact_tree(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [redact_tree(item) for item in value]
    return value


def _mask_one(url: str, bare_user_is_secret: bool = True) -> str:
    """One URL (``scheme://...``) with its userinfo's secret and its secret parameters masked.

    A userinfo without a colon is masked whole unless told it is a user name: in free text
    it may be a bare token (``https://TOKEN@host``); in a parsed database URL it is a user.
    """
    head, _, rest = url.partition("://")
    at = rest.rfind("@")
    if at >= 0 and _is_userinfo(rest[:at]):
        user, colon, _secret = rest[:at].partition(":")
        if colon:
            rest = f"{user}:{MASK}@{rest[at + 1 :]}"
        elif bare_user_is_secret:
            rest = f"{MASK}@{rest[at + 1 :]}"
    return f"{head}://{_SECRET_PARAM.sub(lambda m: m.group(1) + MASK, rest)}"


def _is_userinfo(before_at: str) -> bool:
    """Whether what precedes the last ``@`` is credentials rather than a path or query with an ``@``.

    Credentials come before any ``/``, unless a password holds one: then a ``:`` precedes it.
    """
    slash = before_at.find("/")
    if slash < 0:
        return True
    colon = before_at.find(":")
    return 0 <= colon < slash
