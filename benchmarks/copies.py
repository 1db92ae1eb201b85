"""A registry for the memory benchmarks: iris trained once, its stored files registered again.

The copies are real versions (the scikit-learn model and its compiled form, the
same describing fields), so a server loads and serves each as it would a
trained one, without a training per copy.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from tabserve.config import load_settings
from tabserve.registry import StoredFile, open_registry
from tabserve.registry.records import DESCRIBING_FIELDS
from tabserve.workflow import train_and_register


def trained_iris(folder: Path, logging: dict, server: dict) -> Path:
    """The config of a registry under ``folder`` holding iris version 1 (trained, production)."""
    config = {
        "registry": {"url": f"sqlite:///{folder / 'registry.db'}", "artifacts": str(folder / "artifacts")},
        "search": {"n_jobs": 1},
        "logging": logging,
        "server": server,
    }
    path = folder / "tabserve.yaml"
    path.write_text(yaml.safe_dump(config))
    train_and_register(load_settings(path, environ={}))
    return path


def register_copies(config: Path, models: list[str], promote: bool) -> None:
    """Iris version 1's files registered once more under each of ``models`` (``iris``: version 2)."""
    registry = open_registry(load_settings(config, environ={}))
    try:
        record = registry.get("iris", 1)
        files = [
            StoredFile(kind, entry["key"].rsplit("/", 1)[1], registry.read_file(record, kind))
            for kind, entry in record.artifacts.items()
        ]
        fields = {name: getattr(record, name) for name in DESCRIBING_FIELDS}
        for model in models:
            version = registry.register(model, files, fields)
            if promote:
                registry.promote(model, version)
    finally:
        registry.close()
