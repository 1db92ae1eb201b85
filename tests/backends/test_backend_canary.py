"""Canary rows behave the same on SQLite, MariaDB and PostgreSQL: one running canary per model,
reweighed in place, closed once with how it ended, and kept afterwards; its realised figures add up the
same way."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tabserve.errors import ConflictError
from tabserve.monitoring.canary_realised import Realised, read_realised
from tabserve.registry.feedback_table import feedback
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


def _feedback(store: MetadataStore, model: str, rows: list[tuple]) -> None:
    """Stored ground truth: ``(version, predicted_at, predicted_label, actual_label, value, actual)``."""
    store.ensure_schema()
    with store.engine.begin() as conn:
        conn.execute(
            sa.insert(feedback),
            [
                {
                    "model": model,
                    "prediction_id": f"r-{n}",
                    "version": version,
                    "predicted_at": at,
                    "received_at": at + 1,
                    "predicted_label": predicted,
                    "actual_label": actual,
                    "predicted_value": value,
                    "actual_value": truth,
                }
                for n, (version, at, predicted, actual, value, truth) in enumerate(rows)
            ],
        )


def test_the_realised_figures_of_a_canary_add_up_per_version_since_it_began(store):
    model = unique_name("m")
    _feedback(
        store,
        model,
        [
            *[(2, 100.0, "setosa", "setosa", None, None)] * 3,
            (2, 101.0, "setosa", "virginica", None, None),
            *[(1, 102.0, "virginica", "virginica", None, None)] * 2,
            (1, 10.0, "setosa", "virginica", None, None),  # before the canary began
            (3, 100.0, "setosa", "setosa", None, None),  # another version
            (1, 102.0, "virginica", "Virginica", None, None),  # not the same label (MySQL's collations)
        ],
    )
    assert read_realised(store, model, 50.0, (1, 2)) == {
        2: Realised(4, accuracy=0.75),
        1: Realised(3, accuracy=2 / 3),
    }
    assert read_realised(store, unique_name("m"), 50.0, (1, 2)) == {}
    regressor = unique_name("m")
    _feedback(store, regressor, [(2, 100.0, None, None, 3.0, 1.0), (2, 100.0, None, None, 1.0, 1.0)])
    assert read_realised(store, regressor, 50.0, (1, 2)) == {2: Realised(2, rmse=pytest.approx(2**0.5))}
