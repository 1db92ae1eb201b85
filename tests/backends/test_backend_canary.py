"""Canary rows behave the same on SQLite, MariaDB and PostgreSQL: one running canary per model,
reweighed in place, closed once with how it ended, and kept afterwards."""

from __future__ import annotations

import pytest

from tabserve.errors import ConflictError
from tabserve.registry.metadata import MetadataStore
from tests.support.backends import unique_name


@pytest.fixture
def store(db_url):
    opened = MetadataStore(db_url)
    yield opened
    opened.close()


def test_a_canary_starts_reweighs_and_ends_once(store):
    model = unique_name("m")
    assert store.active_canary(model) is None
    started = store.start_canary(model, 2, 20, actor="http")
    assert (started.version, started.weight, started.actor, started.active) == (2, 20, "http", True)
    again = store.start_canary(model, 2, 40)
    assert again.id == started.id and again.weight == 40
    with pytest.raises(ConflictError, match="already has a canary of version 2"):
        store.start_canary(model, 3, 10)
    assert store.end_canary(model, "aborted", "error rate too high", version=3) is None  # not that version
    ended = store.end_canary(model, "aborted", "error rate too high", version=2)
    assert ended is not None and (ended.outcome, ended.reason, ended.active) == (
        "aborted",
        "error rate too high",
        False,
    )
    assert store.end_canary(model, "stopped", "again") is None
    assert store.active_canary(model) is None


def test_past_canaries_are_listed_newest_first_and_models_are_apart(store):
    model, other = unique_name("m"), unique_name("m")
    store.start_canary(model, 2, 10)
    store.end_canary(model, "stopped", "by hand")
    store.start_canary(model, 3, 30)
    store.start_canary(other, 5, 50)
    history = store.canary_history(model)
    assert [(c.version, c.outcome) for c in history] == [(3, None), (2, "stopped")]
    assert store.active_canary(other).version == 5
    assert store.canary_history(model)[0].summary()["started_at"].endswith("Z")


def test_an_unknown_outcome_is_refused(store):
    with pytest.raises(ValueError, match="outcome must be one of"):
        store.end_canary(unique_name("m"), "vanished", "?")
