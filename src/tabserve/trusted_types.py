"""Types an operator trusts beyond tabserve's built-in set: ``registry.trusted_types``.

A model file lists the types it would construct; tabserve loads it only if each
one is built in (scikit-learn classes, a few numpy helpers) or named by the
*loading side's* config, as a dotted name or a module prefix. The file never
widens that set. Prefixes that would admit code runners (``builtins``, ``os``,
``subprocess`` ...) are refused in the config itself.
"""

from __future__ import annotations

import re

# Roots whose members can run code, open files or import things: never a trusted prefix.
FORBIDDEN_ROOTS = frozenset(
    {
        "builtins",
        "__builtin__",
        "__main__",
        "os",
        "posix",
        "nt",
        "sys",
        "subprocess",
        "importlib",
        "pickle",
        "_pickle",
        "marshal",
        "shutil",
        "socket",
        "runpy",
        "ctypes",
        "code",
        "codeop",
        "pty",
        "io",
        "types",
        "functools",
        "operator",
        "eval",
        "exec",
    }
)
_DOTTED = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


def check_entry(entry: str) -> str:
    """A config entry as stored: a dotted name that does not open a code runner; else ValueError."""
    entry = entry.strip().rstrip(".")
    if not _DOTTED.match(entry):
        raise ValueError(f"'{entry}' is not a dotted name such as mypackage.transformers.LogShift")
    root = entry.split(".")[0]
    if root in FORBIDDEN_ROOTS:
        raise ValueError(f"'{entry}' would trust '{root}', which can run code; name your own classes instead")
    if root == "sklearn":
        raise ValueError(f"'{entry}': scikit-learn classes are trusted already")
    return entry


def is_listed(name: str, entries: tuple[str, ...]) -> bool:
    """``name`` is an entry, or lies inside a module an entry names."""
    return any(name == entry or name.startswith(entry + ".") for entry in entries)


def how_to_trust(types: list[str]) -> str:
    """The instruction an untrusted-types error ends with."""
    local = [t for t in types if t.split(".")[0] == "__main__"]
    if local:
        return (
            f"{', '.join(local)} defined in the notebook or script itself (__main__) cannot be loaded "
            "by a server; move it to a module the server can import (e.g. my_transformers.py), refit, "
            "and trust that module in the server's config: registry.trusted_types: [my_transformers]"
        )
    runners = [t for t in types if not _trustable(t)]
    trustable = [t for t in types if _trustable(t)]
    refusal = (
        f"{', '.join(runners)} can run code or reach the system, which no config can trust: "
        "this file cannot be loaded (refit with your own classes if you made it)"
        if runners
        else ""
    )
    if not trustable:
        return refusal
    listed = ", ".join(trustable)
    modules = sorted({t.rpartition(".")[0] for t in trustable if "." in t})
    example = modules[0] if modules else trustable[0]
    advice = (
        "if you wrote them and the server can import them, trust them in the server's config: "
        f"registry.trusted_types: [{listed}] (or a module prefix such as {example}), "
        f"or the environment variable TABSERVE_REGISTRY__TRUSTED_TYPES='[{listed}]'"
    )
    return f"{refusal}; and for the others: {advice}" if refusal else advice


def _trustable(name: str) -> bool:
    """Whether ``registry.trusted_types`` would accept ``name`` (so suggesting it can help)."""
    try:
        check_entry(name)
    except ValueError:
        return False
    return True
