"""`make run` installs what serving and training need; `make test` adds the development tools."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _planned(target: str, venv: Path) -> list[str]:
    """The commands ``make TARGET`` would run for a fresh ``venv`` (``make -n``: nothing runs)."""
    if shutil.which("make") is None:
        pytest.skip("make not installed (Debian: apt-get install make)")
    done = subprocess.run(
        ["make", "-n", "--no-print-directory", target, f"VENV={venv}"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        # Run by `make test`, make would otherwise inherit the outer make's level and flags.
        env={k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")},
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def test_make_run_installs_the_train_extra_only(tmp_path):
    planned = _planned("run", tmp_path / "venv")
    installs = [line for line in planned if "pip install" in line and " -e " in line]
    assert installs == [f"{tmp_path / 'venv'}/bin/python -m pip install --quiet -e '.[train]'"]
    assert not any("[dev]" in line for line in planned)
    assert planned[-1].startswith(f"{tmp_path / 'venv'}/bin/tabserve serve")


def test_make_test_installs_the_dev_extra_and_marks_the_run_install_done(tmp_path):
    planned = _planned("test", tmp_path / "venv")
    assert f"{tmp_path / 'venv'}/bin/python -m pip install --quiet -e '.[dev]'" in planned
    assert not any("'.[train]'" in line for line in planned)
    assert f"touch {tmp_path / 'venv'}/.installed-dev {tmp_path / 'venv'}/.installed-run" in planned


def test_the_dev_extra_includes_the_train_extra():
    import tomllib

    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    own = [
        req.removeprefix("tabserve[").rstrip("]").split(",")
        for req in extras["dev"]
        if req.startswith("tabserve[")
    ]
    assert any("train" in names for names in own), extras["dev"]


def test_make_bench_measures_what_intervals_cost_a_batch(tmp_path):
    planned = _planned("bench", tmp_path / "venv")
    assert f"{tmp_path / 'venv'}/bin/python benchmarks/intervals.py" in planned
    assert (REPO / "benchmarks" / "intervals.py").is_file()


@pytest.mark.slow
def test_the_intervals_benchmark_runs_and_reports_its_ratio_and_target():
    import sys

    done = subprocess.run(
        [sys.executable, "benchmarks/intervals.py", "--rows", "500", "--rounds", "1", "--calls", "2"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(REPO / "src")},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "500-row batch" in done.stdout and "target <= 1.05" in done.stdout
    assert "ratio" in done.stdout.splitlines()[-1]
