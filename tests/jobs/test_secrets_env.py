"""Settings reach job and worker processes without the environment (issue 9, finding 3).

Any process of the same user can read ``/proc/PID/environ``; the token and
database passwords must not be there. Each test reads the real children of a
real server.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.polling import eventually
from tests.support.servers import copy_registry, write_config

TOKEN = "tok-e7a1-env-leak-check"


def children(pid: int) -> list[int]:
    """The direct children of a process, from every one of its threads."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            found += [int(p) for p in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def environ(pid: int) -> bytes:
    return Path(f"/proc/{pid}/environ").read_bytes()


def _config(tmp_path: Path, trained_iris, **server: object) -> Path:
    registry = copy_registry(trained_iris[0], tmp_path / "registry")
    return write_config(tmp_path, registry, server={"token": TOKEN, **server})


def _wait_for_children(pid: int, count: int) -> list[int]:
    def live_children() -> list[int] | None:
        found = [p for p in children(pid) if b"PATH=" in environ(p)]
        return found if len(found) >= count else None

    return eventually(live_children, f"process {pid} having {count} live children")


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc")
def test_a_training_job_process_has_no_secret_in_its_environment(tmp_path, trained_iris, start_server):
    server = start_server(_config(tmp_path, trained_iris))
    server.wait()
    slow = {
        "candidates": [
            {
                "estimator": "sklearn.linear_model.LogisticRegression",
                "grid": {"C": [0.1 * i for i in range(1, 100)]},
            }
        ]
    }
    accepted = server.client.post("/train", json=slow, headers={"authorization": f"Bearer {TOKEN}"})
    assert accepted.status_code == 202, accepted.text
    (job_process,) = _wait_for_children(server.process.pid, 1)
    seen = environ(job_process)
    assert b"tabserve.jobs.runner" in Path(f"/proc/{job_process}/cmdline").read_bytes()
    assert TOKEN.encode() not in seen and b"TABSERVE_" not in seen


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc")
def test_server_workers_have_no_secret_in_their_environment(tmp_path, trained_iris, start_server):
    config = _config(tmp_path, trained_iris, workers=2)
    server = start_server(config)
    server.wait()
    workers = _wait_for_children(server.process.pid, 2)
    for pid in workers:
        seen = environ(pid)
        assert TOKEN.encode() not in seen
        assert b"TABSERVE_SERVE_SETTINGS_FILE=" in seen  # a path, not the settings
    assert server.client.get("/readyz").status_code == 200
    settings_file = next(
        Path(line.split(b"=", 1)[1].decode())
        for line in environ(workers[0]).split(b"\0")
        if line.startswith(b"TABSERVE_SERVE_SETTINGS_FILE=")
    )
    assert settings_file.stat().st_mode & 0o077 == 0  # only this user can read it
    assert server.terminate() == 0
    assert not settings_file.exists()  # removed when the server stops
