"""The training story once: one promotion rule for train, register and import; the grid built once;
the files of a version just written are not read back to be promoted."""

from __future__ import annotations

from pathlib import Path

import pytest

import tabserve
from tabserve import promotion, training
from tabserve.exchange import export_version, import_version
from tabserve.registry import ModelStore, open_registry
from tabserve.workflow import train_and_register
from tests.support.settings import make_settings

ONE_CANDIDATE = [{"estimator": "sklearn.linear_model.LogisticRegression", "grid": {"C": [1.0]}}]


@pytest.fixture
def settings(tmp_path: Path):
    return make_settings(tmp_path, candidates=ONE_CANDIDATE, registry={"pictures": False})


def test_train_register_and_import_promote_by_the_one_rule(settings, tmp_path, monkeypatch) -> None:
    decided = []
    real = promotion.settle

    def settle(*args, **kwargs):
        decided.append(args[2])
        return real(*args, **kwargs)

    for where in ("tabserve.promotion", "tabserve.workflow", "tabserve.exchange"):
        monkeypatch.setattr(f"{where}.settle", settle)
    assert train_and_register(settings).version == 1
    with open_registry(settings) as registry:
        model = registry.load_model(registry.get("iris", 1))
        export_version(registry, "iris", 1, tmp_path / "export")
        assert (
            import_version(registry, tmp_path / "export", name=None, promote=None, auto_promote=True).version
            == 2
        )
    from sklearn.datasets import load_iris

    x = load_iris(as_frame=True).data
    x.columns = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    assert tabserve.register(model, name="iris", X_sample=x.head(5), registry=settings).version == 3
    assert decided == [1, 2, 3]


def test_training_builds_the_param_grid_once(settings, monkeypatch) -> None:
    calls = []
    real = training.build_param_grid

    def build(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(training, "build_param_grid", build)
    training.train(settings)
    assert len(calls) == 1


def test_promoting_a_version_just_written_does_not_read_its_files_back(settings, monkeypatch) -> None:
    reads = []
    real = ModelStore.read_file

    def read_file(self, record, kind="model"):
        reads.append(kind)
        return real(self, record, kind)

    monkeypatch.setattr(ModelStore, "read_file", read_file)
    outcome = train_and_register(settings)
    assert outcome.promoted and reads == []
    with open_registry(settings) as registry:  # a later load reads and checks every file
        promotion.promote(registry, "iris", 1)
    assert sorted(reads) == sorted(["model", "compiled", "profile", "sample"])


def test_registry_is_one_name_the_public_one() -> None:
    import tabserve.registry

    assert tabserve.Registry.__module__ == "tabserve.api"
    assert not hasattr(tabserve.registry, "Registry")
    assert tabserve.registry.open_registry.__module__ == "tabserve.registry"
    import tabserve.cli.common
    import tabserve.workflow

    assert not hasattr(tabserve.workflow, "open_registry") or tabserve.workflow.open_registry is open_registry
    assert not hasattr(tabserve.cli.common, "open_registry")
