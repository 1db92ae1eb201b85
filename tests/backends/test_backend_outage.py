"""A registry database that goes away: calls fail fast and clearly, and work again once it is back."""

from __future__ import annotations

import pytest

from tabserve.database import CONNECT_TIMEOUT_S
from tabserve.errors import BackendUnavailableError
from tabserve.registry.metadata import MetadataStore
from tests.support.settings import error_of_call

pytestmark = [pytest.mark.backend, pytest.mark.slow]

FIELDS = {
    "estimator": "sklearn.linear_model.LogisticRegression",
    "params": {},
    "metrics": {},
    "cv_results": [],
    "feature_schema": {},
    "data_rows": 1,
    "data_hash": "0" * 64,
    "libraries": {},
    "config": {},
    "artifacts": {},
    "sha256": "0" * 64,
}


def test_database_down_then_back_same_store(private_postgres):
    store = MetadataStore(private_postgres.url)
    try:
        assert store.add_version("iris", FIELDS) == 1

        private_postgres.stop()
        for call in (
            lambda: store.list_versions("iris"),
            store.ping,
            lambda: store.add_version("iris", FIELDS),
        ):
            # Fails on its own (refused, or the connect timeout), never waits on the dead server.
            caught = error_of_call(call, deadline_s=3 * CONNECT_TIMEOUT_S)
            assert isinstance(caught, BackendUnavailableError), repr(caught)
            message = str(caught)
            assert private_postgres.password not in message
            assert f"postgres:***@127.0.0.1:{private_postgres.port}" in message
            assert "\n" not in message

        private_postgres.start()
        assert [v.version for v in store.list_versions("iris")] == [1]
        assert store.add_version("iris", FIELDS) == 2
    finally:
        store.close()


def test_database_down_at_first_use_then_migrates_when_back(private_postgres):
    private_postgres.stop()
    store = MetadataStore(private_postgres.url)
    try:
        with pytest.raises(BackendUnavailableError, match="unavailable"):
            store.ensure_schema()

        private_postgres.start()
        assert store.latest_version("iris") is None
        assert store.add_version("iris", FIELDS) == 1
    finally:
        store.close()


def test_cluster_fixture_restarts(private_postgres):
    assert private_postgres.is_running()
    private_postgres.restart()
    assert private_postgres.is_running()
    private_postgres.stop()
    assert not private_postgres.is_running()
