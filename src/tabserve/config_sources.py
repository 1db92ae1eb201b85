"""Where a config's raw values come from: a YAML or JSON file, and ``TABSERVE_*`` variables.

Kept apart from config.py (the schema and its validation) so each stays one job:
reading and parsing here, with errors that name the file or the variable.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from tabserve.errors import ConfigError

ENV_PREFIX = "TABSERVE_"


def read_config_file(path: str | Path) -> dict[str, Any]:
    """Read a YAML or JSON file into a mapping, or fail naming the file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file ({exc.strerror})") from exc
    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML or JSON: {_yaml_problem(exc)}") from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ConfigError(f"{path}: the top level must be a mapping, got {type(loaded).__name__}")
    return loaded


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """PyYAML's error on one line: where and what, without its multi-line source excerpt."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or type(exc).__name__
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    return f"{where}{problem}"


def env_overrides(environ: Mapping[str, str]) -> dict[str, tuple[tuple[str, ...], Any]]:
    """Map each ``TABSERVE_SECTION__KEY`` variable to its key path and parsed value.

    Values are read as YAML scalars, so ``5`` is a number, ``null`` is None and
    ``[1, 2]`` is a list. Variables without ``__`` (other than TABSERVE_MODEL and
    TABSERVE_TASK, the top-level keys) belong to other tools and are left alone.
    """
    found: dict[str, tuple[tuple[str, ...], Any]] = {}
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX):
            continue
        rest = name[len(ENV_PREFIX) :]
        if rest in ("MODEL", "TASK"):
            keys: tuple[str, ...] = (rest.lower(),)
        elif "__" in rest:
            keys = tuple(part.lower() for part in rest.split("__"))
        else:
            continue
        try:
            value = yaml.safe_load(raw) if raw != "" else None
        except yaml.YAMLError:
            value = raw
        found[name] = (keys, value)
    return found


def set_path(tree: dict[str, Any], keys: tuple[str, ...], value: Any) -> None:
    """Put ``value`` at ``keys`` in a nested mapping, making the sections on the way."""
    node = tree
    for key in keys[:-1]:
        child = node.get(key)
        if not isinstance(child, dict):
            child = {}
            node[key] = child
        node = child
    node[keys[-1]] = value
