"""Grid search on a real Dask cluster: worker processes on loopback TCP, as a user would run it."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import distributed
import pytest
import yaml

from tabserve.dask_backend import CONNECT_TIMEOUT_S, dask_parallel
from tabserve.errors import BackendUnavailableError, ConfigError
from tabserve.training import TrainedModel, train
from tests.support.settings import error_of_call, make_settings


@pytest.fixture(scope="module")
def cluster() -> Iterator[tuple[object, object]]:
    """Two single-threaded worker processes and a client the tests use to watch them."""
    with (
        distributed.LocalCluster(
            processes=True,
            n_workers=2,
            threads_per_worker=1,
            host="127.0.0.1",
            dashboard_address="127.0.0.1:0",
        ) as local,
        distributed.Client(local, set_as_default=False) as client,
    ):
        yield local, client


def free_port() -> int:
    """A loopback port nobody listens on (bound, read, released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def fit_keys(task_stream: list[dict]) -> list[str]:
    """Keys of the cross-validation fits the cluster ran (joblib names batches after the function)."""
    return [str(task["key"]) for task in task_stream if "fit_and_score" in str(task["key"])]


def comparable(trained: TrainedModel) -> dict:
    """What must not depend on where the fits ran (timings do, so they are left out)."""
    return {
        "estimator": trained.estimator,
        "params": trained.params,
        "cv_score": trained.cv_score,
        "metrics": trained.metrics,
        "cv_scores": [
            (row["estimator"], row["params"], row["mean_test_score"]) for row in trained.cv_results
        ],
    }


@pytest.mark.slow
def test_dask_search_matches_local_search_and_runs_on_the_workers(cluster, tmp_path: Path):
    local_cluster, client = cluster
    local = train(make_settings(tmp_path / "local", split={"random_state": 3}))
    on_dask = make_settings(
        tmp_path / "dask",
        split={"random_state": 3},
        search={"backend": "dask", "dask_address": local_cluster.scheduler_address},
    )
    with distributed.get_task_stream(client=client) as stream:
        remote = train(on_dask)

    assert comparable(remote) == comparable(local)
    assert fit_keys(stream.data), "no grid-search fit ran on the Dask workers"
    assert {task["worker"] for task in stream.data} <= set(client.scheduler_info()["workers"])


@pytest.mark.slow
def test_dask_search_reports_progress_up_to_the_total(cluster, tmp_path: Path):
    local_cluster, _ = cluster
    settings = make_settings(
        tmp_path, search={"backend": "dask", "dask_address": local_cluster.scheduler_address}
    )
    seen: list[tuple[int, int]] = []
    train(settings, progress=lambda done, total: seen.append((done, total)))

    done = [d for d, _ in seen]
    total = seen[0][1]
    assert {t for _, t in seen} == {total}
    assert done[0] == 0 and done[-1] == total
    assert done == sorted(done), f"progress went backwards: {done}"
    assert any(0 < d < total for d in done), "no progress reported between the start and the end"


@pytest.mark.slow
def test_unreachable_scheduler_is_a_clear_error_within_seconds(tmp_path: Path):
    address = f"tcp://127.0.0.1:{free_port()}"
    settings = make_settings(tmp_path, search={"backend": "dask", "dask_address": address})
    caught = error_of_call(lambda: train(settings), deadline_s=3 * CONNECT_TIMEOUT_S)
    assert isinstance(caught, BackendUnavailableError), repr(caught)
    # It gave up on its own connect timeout, and says so.
    assert (
        f"search.dask_address: cannot reach the Dask scheduler at {address} within {CONNECT_TIMEOUT_S:g} s"
        in str(caught)
    )


@pytest.mark.parametrize("address", ["tcp://127.0.0.1", "http://127.0.0.1:8786", "scheduler"])
def test_malformed_address_is_a_config_error_naming_the_key(address: str):
    with (
        pytest.raises(ConfigError, match=r"search\.dask_address: .* expected tcp://HOST:PORT"),
        dask_parallel(address),
    ):
        pass


@pytest.mark.slow
def test_scheduler_without_workers_fails_instead_of_hanging():
    with distributed.LocalCluster(
        processes=True, n_workers=0, host="127.0.0.1", dashboard_address="127.0.0.1:0"
    ) as empty:

        def enter() -> None:
            with dask_parallel(empty.scheduler_address, worker_timeout_s=1):
                pass

        caught = error_of_call(enter, deadline_s=3 * (CONNECT_TIMEOUT_S + 1))
        assert isinstance(caught, BackendUnavailableError), repr(caught)
        assert "has no worker after 1 s" in str(caught)


@pytest.mark.slow
def test_cli_train_with_dask_flag_registers_a_version(cluster, tmp_path: Path):
    local_cluster, client = cluster
    config = tmp_path / "tabserve.yaml"
    config.write_text(yaml.safe_dump({"logging": {"file": None}}), encoding="utf-8")
    command = [sys.executable, "-m", "tabserve.cli", "train", "-c", str(config)]
    with distributed.get_task_stream(client=client) as stream:
        done = subprocess.run(
            [*command, "--dask", local_cluster.scheduler_address],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=240,
        )
    assert done.returncode == 0, done.stderr
    assert "model iris version 1 (production)" in done.stdout
    assert (tmp_path / "var" / "registry.db").is_file()
    assert fit_keys(stream.data), "the CLI trained without using the Dask workers"


@pytest.mark.slow
def test_cli_train_with_unreachable_scheduler_exits_with_one_clear_line(tmp_path: Path):
    address = f"tcp://127.0.0.1:{free_port()}"
    config = tmp_path / "tabserve.yaml"
    config.write_text(yaml.safe_dump({"logging": {"file": None}}), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "tabserve.cli", "train", "-c", str(config), "--dask", address],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert (
        f"tabserve: error: search.dask_address: cannot reach the Dask scheduler at {address}" in done.stderr
    )
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "var" / "artifacts").exists() or not any(
        (tmp_path / "var" / "artifacts").iterdir()
    )
