"""Relative paths in a config file mean "next to this file", as in docker compose.

`tabserve train -c /elsewhere/examples/customers.yaml` must read the CSV
that sits beside the YAML, whatever the current directory. Only values written
in a file are rewritten: an environment variable (``TABSERVE_DATA__PATH``) and
the built-in defaults stay relative to the current directory, where the user
typed them. A POST /train body's data location is read like the server's
config file, so it matches ``server.train_sources`` entries as the operator
wrote them.

Kept apart from config.py so that module stays the schema and its loader; this
one imports nothing heavier than ``os``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

_SQLITE_PREFIXES = ("sqlite:///", "sqlite+pysqlite:///", "sqlite+aiosqlite:///")
# section -> keys holding a file path (or a URL, left alone) / a SQLAlchemy URL (sqlite files resolved)
_PATH_KEYS = {"data": ("path",), "registry": ("artifacts",), "logging": ("file",)}
_URL_KEYS = {"data": ("url",), "registry": ("url",)}


def resolve_path(value: Any, base_dir: str) -> Any:
    """``value`` joined to ``base_dir`` if it is a relative file path; URLs and absolute paths as given."""
    if not isinstance(value, str) or not value or "://" in value or os.path.isabs(value):
        return value
    if value.startswith("~"):
        return value  # the user's home: expanded where the file is opened, not here
    return os.path.normpath(os.path.join(base_dir, value))


def resolve_sqlite_url(value: Any, base_dir: str) -> Any:
    """A ``sqlite:///relative.db`` URL with its file joined to ``base_dir``; every other URL as given."""
    if not isinstance(value, str):
        return value
    prefix = next((p for p in _SQLITE_PREFIXES if value.startswith(p)), None)
    if prefix is None:
        return value
    database, mark, query = value[len(prefix) :].partition("?")
    if not database or database == ":memory:" or database.startswith(("/", "file:")):
        return value
    return f"{prefix}{resolve_path(database, base_dir)}{mark}{query}"


def resolve_data_section(data: Mapping[str, Any], base_dir: str) -> dict[str, Any]:
    """A ``data`` mapping (or a ``server.train_sources`` entry) with its file path and SQLite URL resolved."""
    return _resolve_section(data, "data", base_dir)


def resolve_config_paths(raw: Mapping[str, Any], base_dir: str) -> dict[str, Any]:
    """A copy of a config file's mapping with every relative path in it resolved against ``base_dir``."""
    resolved = dict(raw)
    for section in set(_PATH_KEYS) | set(_URL_KEYS):
        if isinstance(resolved.get(section), Mapping):
            resolved[section] = _resolve_section(resolved[section], section, base_dir)
    server = resolved.get("server")
    if isinstance(server, Mapping) and isinstance(server.get("train_sources"), list):
        sources = [
            resolve_data_section(s, base_dir) if isinstance(s, Mapping) else s
            for s in server["train_sources"]
        ]
        resolved["server"] = {**server, "train_sources": sources}
    server = resolved.get("server")
    if isinstance(server, Mapping) and isinstance(server.get("model_configs"), Mapping):
        configs = {name: resolve_path(path, base_dir) for name, path in server["model_configs"].items()}
        resolved["server"] = {**server, "model_configs": configs}
    score = resolved.get("score")
    if isinstance(score, Mapping):
        resolved["score"] = _resolve_score(score, base_dir)
    return resolved


def _resolve_score(score: Mapping[str, Any], base_dir: str) -> dict[str, Any]:
    """The ``score`` section: each source's and the sink's path and SQLite URL, and the rejects folder."""
    out = dict(score)
    if isinstance(out.get("sources"), list):
        out["sources"] = [
            resolve_data_section(s, base_dir) if isinstance(s, Mapping) else s for s in out["sources"]
        ]
    if isinstance(out.get("sink"), Mapping):
        out["sink"] = resolve_data_section(out["sink"], base_dir)
    if "rejects" in out:
        out["rejects"] = resolve_path(out["rejects"], base_dir)
    return out


def _resolve_section(values: Mapping[str, Any], section: str, base_dir: str) -> dict[str, Any]:
    out = dict(values)
    for key in _PATH_KEYS.get(section, ()):
        if key in out:
            out[key] = resolve_path(out[key], base_dir)
    for key in _URL_KEYS.get(section, ()):
        if key in out:
            out[key] = resolve_sqlite_url(out[key], base_dir)
    return out
