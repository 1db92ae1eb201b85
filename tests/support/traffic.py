"""Traffic and jobs against a running server: a predict loop in a thread, waiting for a job."""

from __future__ import annotations

import threading
from pathlib import Path

import httpx

from tabserve.config import load_settings
from tabserve.registry import open_registry

SETOSA = [5.1, 3.8, 1.5, 0.3]


class PredictLoop:
    """Predicts in a background thread, remembering every status and version seen."""

    def __init__(self, url: str, path: str = "/predict") -> None:
        self.url = url
        self.path = path
        self.stop = threading.Event()
        self.statuses: list[int] = []
        self.versions: list[int] = []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        """A failed connection or a wrong answer is recorded as status 0, so callers see it."""
        with httpx.Client(base_url=self.url, timeout=10) as client:
            while not self.stop.is_set():
                try:
                    response = client.post(self.path, json=SETOSA)
                except httpx.HTTPError:
                    self.statuses.append(0)
                    continue
                if response.status_code == 200 and response.json()["labels"] != ["setosa"]:
                    self.statuses.append(0)
                    continue
                self.statuses.append(response.status_code)
                if response.status_code == 200:
                    self.versions.append(response.json()["version"])

    def finish(self) -> None:
        self.stop.set()
        self.thread.join(30)


def wait_for_job(server, job_id: str, statuses: tuple[str, ...], timeout: float = 120) -> dict:
    """The job once its status is one of ``statuses``."""

    def reached() -> dict | None:
        job = server.client.get(f"/jobs/{job_id}").json()
        return job if job["status"] in statuses else None

    return server.until(reached, f"job {job_id} reaching {statuses}", timeout)


def job_pid(config: Path, job_id: str) -> int:
    """The process id the registry recorded for a job."""
    registry = open_registry(load_settings(config, environ={}))
    try:
        return registry.metadata.get_job(job_id).pid
    finally:
        registry.close()


def damage(config: Path, version: int, kind: str) -> str:
    """Flip a byte of one stored file of a version; its file name."""
    settings = load_settings(config, environ={})
    registry = open_registry(settings)
    try:
        key = registry.get(settings.model, version).artifacts[kind]["key"]
    finally:
        registry.close()
    path = Path(settings.registry.artifacts) / key
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    return path.name
