"""`tabserve registry gc`: files a killed registration left are found, and removed when asked (issue 9, 7)."""

from __future__ import annotations

import os
import time
from pathlib import Path

from tabserve.cli import main
from tabserve.config import load_settings
from tabserve.registry import open_registry


def _orphan(artifacts: Path, age_s: float) -> Path:
    """Files as a registration killed after its upload leaves them: a version folder with no row."""
    folder = artifacts / "iris" / "0123456789abcdef0123456789abcdef"
    folder.mkdir(parents=True)
    path = folder / "model.skops"
    path.write_bytes(b"uploaded, never registered")
    old = time.time() - age_s
    os.utime(path, (old, old))
    return path


def test_gc_lists_by_default_and_removes_only_with_delete(iris_config, capsys):
    settings = load_settings(iris_config, environ={})
    artifacts = Path(settings.registry.artifacts)
    orphan = _orphan(artifacts, age_s=7200)
    kept = sorted(p for p in artifacts.rglob("*") if p.is_file() and p != orphan)
    assert main(["-c", str(iris_config), "registry", "gc"]) == 0
    out = capsys.readouterr().out
    assert "iris/0123456789abcdef0123456789abcdef/model.skops" in out and "1 orphaned file" in out
    assert orphan.exists()  # a dry run by default
    assert main(["-c", str(iris_config), "registry", "gc", "--delete"]) == 0
    assert "removed 1 file" in capsys.readouterr().out
    assert not orphan.exists()
    assert sorted(p for p in artifacts.rglob("*") if p.is_file()) == kept  # every version's files stay
    registry = open_registry(settings)
    try:
        registry.load_model(registry.get("iris", 1))
    finally:
        registry.close()


def test_gc_leaves_recent_files_a_registration_may_still_own(iris_config, capsys):
    settings = load_settings(iris_config, environ={})
    recent = _orphan(Path(settings.registry.artifacts), age_s=5)
    assert main(["-c", str(iris_config), "registry", "gc", "--delete"]) == 0
    assert "removed 0 file" in capsys.readouterr().out
    assert recent.exists()
    assert main(["-c", str(iris_config), "registry", "gc", "--delete", "--min-age", "0"]) == 0
    assert not recent.exists()
