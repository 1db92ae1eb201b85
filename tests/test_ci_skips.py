"""Under CI=true a skip fails the run, except the documented SQLite ones (tests/conftest.py)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow  # two pytest runs that import tabserve


def _run(tmp_path: Path, ci: str) -> subprocess.CompletedProcess:
    (tmp_path / "conftest.py").write_text((ROOT / "tests" / "conftest.py").read_text())
    (tmp_path / "test_skips.py").write_text(
        textwrap.dedent(
            """
            import pytest

            def test_needs_binaries():
                pytest.skip("no PostgreSQL server binaries under /usr/lib/postgresql/*/bin")

            def test_sqlite_password():
                pytest.skip("SQLite has no passwords")
            """
        )
    )
    env = {"PATH": "/usr/bin:/bin", "CI": ci, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rsf", "-p", "no:cacheprovider", str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )


def test_a_skip_fails_under_ci_except_the_documented_sqlite_one(tmp_path):
    ci = _run(tmp_path, "true")
    assert ci.returncode == 1, ci.stdout
    assert "1 failed, 1 skipped" in ci.stdout
    assert "skipped under CI=true, which must run every test: no PostgreSQL server binaries" in ci.stdout
    assert "SKIPPED [1] test_skips.py:8: SQLite has no passwords" in ci.stdout


def test_skips_stay_skips_outside_ci(tmp_path):
    local = _run(tmp_path, "")
    assert local.returncode == 0, local.stdout
    assert "2 skipped" in local.stdout
