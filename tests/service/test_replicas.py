"""Two server processes sharing one MariaDB registry and one S3 store behave as one service.

A version trained through replica A and not promoted is not served; once promoted through A it
is served by both without a restart, no request fails on either while a client predicts against
both (each switches from version 1 to 2 once, never back), and a job started on A can be followed
through B.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.support.backends import server_url, unique_name
from tests.support.polling import eventually
from tests.support.servers import TABSERVE, metric, write_config
from tests.support.traffic import PredictLoop, wait_for_job

pytestmark = [pytest.mark.slow, pytest.mark.backend]

RELOAD_INTERVAL_S = 1.0


@pytest.fixture
def mariadb_registry_url() -> Iterator[str]:
    """A new, empty MariaDB database for this test's registry, dropped afterwards."""
    url = sa.make_url(server_url("mariadb"))
    name = unique_name("tabserve_replicas")
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f"CREATE DATABASE {name}"))
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name}"))
        admin.dispose()


def replica_config(root: Path, registry: dict) -> Path:
    """One replica's config: the shared registry, its own folder and log, a 1 s reload interval."""
    root.mkdir(parents=True)
    return write_config(root, registry, server={"reload_interval_s": RELOAD_INTERVAL_S})


POLLS = "tabserve_reloader_polls_total"


def test_a_version_promoted_through_one_replica_is_served_by_the_other(
    tmp_path, mariadb_registry_url, s3_endpoint, s3_bucket, aws_env, start_server
):
    registry = {
        "url": mariadb_registry_url,
        "artifacts": f"s3://{s3_bucket}/models",
        "s3_endpoint_url": s3_endpoint,
        "auto_promote": False,  # the test promotes an explicit version itself
    }
    config_a = replica_config(tmp_path / "a", registry)
    config_b = replica_config(tmp_path / "b", registry)
    # The first version must hold the production alias: without one, servers follow the newest version.
    env = {**os.environ, "TABSERVE_REGISTRY__AUTO_PROMOTE": "true"}
    trained = subprocess.run(
        [TABSERVE, "-c", str(config_a), "train"], capture_output=True, text=True, timeout=180, env=env
    )
    assert trained.returncode == 0, trained.stderr
    assert "version 1 (production)" in trained.stdout

    replica_a, replica_b = start_server(config_a), start_server(config_b)
    for replica in (replica_a, replica_b):
        assert replica.wait().json()["version"] == 1
    loops = {"A": PredictLoop(replica_a.url), "B": PredictLoop(replica_b.url)}
    try:
        accepted = replica_a.client.post("/train", json={"search": {"cv": 4}})
        assert accepted.status_code == 202, accepted.text
        job_id = accepted.json()["id"]
        seen_by_b = replica_b.client.get(f"/jobs/{job_id}")
        assert seen_by_b.status_code == 200, seen_by_b.text
        assert seen_by_b.json()["id"] == job_id
        job = wait_for_job(replica_b, job_id, ("succeeded", "failed"), timeout=180)
        assert job["status"] == "succeeded", job
        assert job["version"] == 2
        assert replica_a.client.get(f"/jobs/{job_id}").json() == job

        # A version that is not promoted is not served: B has looked twice since it was registered.
        polls = metric(replica_b.client, POLLS)
        eventually(lambda: metric(replica_b.client, POLLS) >= polls + 2, POLLS)
        assert replica_b.client.get("/readyz").json()["version"] == 1

        promoted = replica_a.client.post("/models/iris/versions/2/promote")
        assert promoted.status_code == 200, promoted.text
        # Each replica serves the promoted version without a restart, and each client sees it.
        for replica in (replica_a, replica_b):
            replica.until(
                lambda r=replica: r.client.get("/readyz").json().get("version") == 2, "version 2 served"
            )
        for name, loop in loops.items():
            replica_a.until(
                lambda lp=loop: lp.versions and lp.versions[-1] == 2, f"replica {name}'s client on v2"
            )
    finally:
        for loop in loops.values():
            loop.finish()
    for name, loop in loops.items():
        assert set(loop.statuses) == {200}, f"a prediction failed on replica {name}"
        assert loop.versions[0] == 1 and loop.versions[-1] == 2, name
        switches = [b for a, b in zip(loop.versions, loop.versions[1:], strict=False) if a != b]
        assert switches == [2], f"replica {name} switched back and forth: {switches}"
    listed = replica_b.client.get("/models/iris").json()
    assert [v["version"] for v in listed["versions"]] == [1, 2]
    assert listed["serving_version"] == 2
    assert "production" in listed["versions"][1]["aliases"]
