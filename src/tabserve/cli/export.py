"""`tabserve models export NAME VERSION -o DIR`: a version as a folder another registry can take back."""

from __future__ import annotations

from typing import Any


def export(registry: Any, model: str, version: int, output: str | None) -> None:
    """Write the version's files and metadata into ``output`` and say what was written."""
    from tabserve.errors import ConfigError
    from tabserve.exchange import export_version

    if not output:
        raise ConfigError("models export: give -o DIR, a new or empty folder to write")
    written = export_version(registry, model, version, output)
    print(f"exported {model} v{version} to {output}: {', '.join(written)}")
    print(f"register it elsewhere with: tabserve register {output} [--name NAME]")
