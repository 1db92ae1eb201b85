"""A registry written by an earlier tabserve opens, serves, promotes and rolls back with nothing lost.

The fixture (tests/fixtures/registry_v2.tar.gz, see its README) was written by `tabserve train`
at commit bf47ac6: SQL schema 2, model iris v1 and v2, production moved v1 -> v2, no sample rows.
"""

from __future__ import annotations

import sqlite3
import tarfile
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_iris

from tabserve import promotion
from tabserve.inputs import parse_payload
from tabserve.predictor import Predictor
from tabserve.registry import PRODUCTION, open_registry
from tabserve.smoke import load_checked
from tabserve.workflow import train_and_register
from tests.support.settings import make_settings

FIXTURE = Path(__file__).parent / "fixtures" / "registry_v2.tar.gz"
ONE_CANDIDATE = [{"estimator": "sklearn.linear_model.LogisticRegression", "grid": {"C": [1.0]}}]


@pytest.fixture
def old_registry(tmp_path: Path):
    with tarfile.open(FIXTURE) as archive:
        archive.extractall(tmp_path, filter="data")
    settings = make_settings(
        tmp_path,
        candidates=ONE_CANDIDATE,
        registry={"url": f"sqlite:///{tmp_path / 'registry.db'}", "pictures": False},
    )
    return settings, tmp_path / "registry.db"


def _rows(db: Path, table: str) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(f"SELECT * FROM {table} ORDER BY 1, 2").fetchall()


def test_an_old_registry_opens_and_serves_every_version(old_registry) -> None:
    settings, db = old_registry
    before = _rows(db, "tabserve_versions")
    x, y = load_iris(return_X_y=True)
    with open_registry(settings) as registry:
        assert [r.version for r in registry.versions("iris")] == [1, 2]
        assert registry.serving_version("iris") == 2
        for version in (1, 2):
            record = registry.get("iris", version)
            assert record.outputs == ["labels", "probabilities"]  # what an old version answers
            predictor = Predictor.load(registry, "iris", version)
            batch = parse_payload({"instances": x.tolist()}, predictor.schema, len(x))
            out = predictor.predict(batch)
            assert np.mean(np.array(out.labels) == np.array(predictor.classes)[y]) > 0.9
            assert np.allclose(out.probabilities.sum(axis=1), 1.0, atol=1e-4)
            assert load_checked(registry, "iris", version).version == version  # from its profile
    assert _rows(db, "tabserve_versions") == before  # reading changed nothing


def test_an_old_registry_promotes_rolls_back_and_takes_new_versions(old_registry) -> None:
    settings, db = old_registry
    old_versions = _rows(db, "tabserve_versions")
    with open_registry(settings) as registry:
        assert promotion.rollback(registry, "iris") == 1
        promotion.promote(registry, "iris", 2)
        assert registry.metadata.alias_version("iris", PRODUCTION) == 2
        assert promotion.rollback(registry, "iris") == 1
    outcome = train_and_register(settings)
    assert outcome.version == 3 and outcome.promoted
    with open_registry(settings) as registry:
        assert "sample" in registry.get("iris", 3).artifacts
        assert registry.serving_version("iris") == 3
        assert promotion.rollback(registry, "iris") == 1
    assert _rows(db, "tabserve_versions")[:2] == old_versions  # the old versions untouched
    history = _rows(db, "tabserve_alias_history")
    assert [row[3] for row in history[:2]] == [1, 2]  # the fixture's own moves are still there


def test_an_old_registry_migrates_its_alias_history_and_lists_it(old_registry, tmp_path, capsys) -> None:
    import json

    import yaml

    from tabserve.cli import main

    settings, db = old_registry
    config = tmp_path / "tabserve.yaml"
    config.write_text(yaml.safe_dump(settings.model_dump(mode="json", include={"registry", "logging"})))
    # A quick command finds schema 2, leaves it to the full store, which migrates it.
    assert main(["models", "history", "-c", str(config), "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(m["to_version"], m["actor"], m["action"], m["forced"], m["reason"]) for m in listed] == [
        (2, "unknown", "promote", False, ""),
        (1, "unknown", "promote", False, ""),
    ]
    assert all(m["from_version"] is None for m in listed)  # not recorded before migration 4
    assert [row[0] for row in _rows(db, "tabserve_schema_versions")] == [1, 2, 4]
    assert main(["models", "rollback", "-c", str(config), "--reason", "after the upgrade"]) == 0
    assert capsys.readouterr().out == "iris production -> v1 (rolled back)\n"
    assert main(["models", "history", "-c", str(config)]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["when", "alias", "action", "move", "actor", "forced", "reason"]
    assert len(table) == 4
    assert "production  rollback  v2 -> v1  cli" in table[1] and table[1].endswith("after the upgrade")
    assert "production  promote   - -> v2   unknown" in table[2]
