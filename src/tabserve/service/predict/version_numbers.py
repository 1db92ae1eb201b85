"""The one rule for a model version number in a URL: digits only, from 1 to ``MAX_VERSION``.

Every place that takes a version (FastAPI path and query parameters, the raw
dispatcher's path matching, OIP's string versions) checks it with these names,
and the OpenAPI pattern for string versions is built from the same bound, so
the document and the code cannot disagree.
"""

from __future__ import annotations

from tabserve.registry.records import MAX_VERSION

__all__ = ["MAX_VERSION", "digits_pattern", "parse_version"]


def parse_version(text: str) -> int | None:
    """The version ``text`` names, or None when it is not digits from 1 to ``MAX_VERSION``."""
    if not (text.isascii() and text.isdigit()):
        return None
    version = int(text)
    return version if 1 <= version <= MAX_VERSION else None


def digits_pattern(top: int) -> str:
    """A regular expression matching exactly the digit strings ``parse_version`` takes for 1..``top``
    (leading zeros included, as ``int`` reads them)."""
    digits = str(top)
    shorter = f"[1-9][0-9]{{0,{len(digits) - 2}}}" if len(digits) > 1 else None
    same_length = []
    for i, digit in enumerate(digits):
        low = "1" if i == 0 else "0"
        high = int(digit) - 1
        if high >= int(low):
            rest = len(digits) - i - 1
            tail = "" if not rest else "[0-9]" if rest == 1 else f"[0-9]{{{rest}}}"
            choice = low if high == int(low) else f"[{low}-{high}]"
            same_length.append(f"{digits[:i]}{choice}{tail}")
    same_length.append(digits)
    return "^0*(?:" + "|".join(([shorter] if shorter else []) + same_length) + ")$"


VERSION_PATTERN = digits_pattern(MAX_VERSION)
