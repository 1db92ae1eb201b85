"""`tabserve train` killed with SIGKILL takes its joblib workers with it (issue 9, finding 7)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.support.polling import eventually

TABSERVE = str(Path(sys.executable).with_name("tabserve"))
DEADLINE_S = 60


def _workers(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            found += [int(p) for p in (task / "children").read_text().split()]
        except OSError:
            continue
    return [p for p in found if b"loky" in _read(f"/proc/{p}/cmdline")]


def _read(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError:
        return b""


def _alive(pid: int) -> bool:
    stat = _read(f"/proc/{pid}/stat")
    return bool(stat) and stat.rsplit(b")", 1)[1].split()[0] != b"Z"


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_joblib_workers_die_when_train_is_killed(tmp_path):
    config = {
        "registry": {
            "url": f"sqlite:///{tmp_path / 'registry.db'}",
            "artifacts": str(tmp_path / "artifacts"),
        },
        "logging": {"file": None},
        "search": {"n_jobs": 2, "cv": 5},
        "candidates": [
            {
                "estimator": "sklearn.linear_model.LogisticRegression",
                "grid": {"C": [0.01 * i for i in range(1, 400)]},
            }
        ],
    }
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    env = {k: v for k, v in os.environ.items() if not k.startswith("TABSERVE_")}
    train = subprocess.Popen(
        [TABSERVE, "-c", str(tmp_path / "c.yaml"), "train"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        workers = eventually(
            lambda: _workers(train.pid) or train.poll() is not None, "process workers starting", DEADLINE_S
        )
        assert workers is not True, "the training ended before its grid search started process workers"
    finally:
        train.kill()  # SIGKILL: no cleanup code runs in the parent
        train.wait()
    eventually(
        lambda: not any(_alive(p) for p in workers), "the workers exiting with their parent", DEADLINE_S
    )


def test_a_worker_whose_parent_is_already_gone_exits(tmp_path):
    """The race the initializer covers: the parent died before the worker asked to die with it."""
    code = (
        "import sys; from tabserve.lifetime import die_with_parent; die_with_parent(1); print('kept running')"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    if sys.platform.startswith("linux") and os.getpid() != 1:
        assert result.returncode == 1 and "kept running" not in result.stdout
