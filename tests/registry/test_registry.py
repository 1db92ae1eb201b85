import multiprocessing
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa

from tabserve.data import load_iris_frame
from tabserve.errors import IntegrityError, NoModelError, NotFoundError
from tabserve.registry import ModelStore, StoredFile, open_registry
from tabserve.registry.serialization import dump_model, is_trusted_type, load_model
from tabserve.workflow import register_trained


def _fields(n: int = 0) -> dict:
    return {
        "estimator": "x",
        "params": {"n": n},
        "metrics": {"holdout_score": 0.5 + n / 100},
        "cv_results": [],
        "feature_schema": {},
        "data_rows": 1,
        "data_hash": "h",
        "libraries": {},
        "config": {},
    }


def test_round_trip_gives_identical_predictions(trained_iris):
    settings, outcome = trained_iris
    with open_registry(settings) as registry:
        record = registry.get("iris", outcome.version)
        loaded = registry.load_model(record)
        frame = load_iris_frame().drop(columns="species")
        np.testing.assert_array_equal(
            loaded.predict_proba(frame), outcome.trained.pipeline.predict_proba(frame)
        )
        assert record.data_rows == 150 and len(record.data_hash) == 64
        assert record.feature_schema["classes"] == ["setosa", "versicolor", "virginica"]
        assert {"python", "scikit-learn", "numpy"} <= set(record.libraries)
        assert record.config["model"] == "iris"


def test_tampered_model_file_is_refused(trained_iris, tmp_path):
    settings, outcome = trained_iris
    registry = open_registry(settings)
    record = registry.get("iris", outcome.version)
    path = Path(settings.registry.artifacts) / record.artifacts["model"]["key"]
    original = path.read_bytes()
    try:
        path.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))
        with pytest.raises(
            IntegrityError,
            match=r"model 'iris' version 1: its model file \(model.skops\) failed its checksum",
        ):
            registry.load_model(record)
    finally:
        path.write_bytes(original)
        registry.close()


def test_untrusted_types_are_refused_even_with_valid_hash():
    data = dump_model({"f": Path("/etc")})
    with pytest.raises(IntegrityError, match="outside tabserve's trusted set: pathlib"):
        load_model(data, "model 'x' version 9")


def test_trust_rule_is_fixed_in_code():
    assert is_trusted_type("sklearn.linear_model._logistic.LogisticRegression")
    assert not is_trusted_type("sklearn.utils.validation.check_array")  # a function, not a class
    assert not is_trusted_type("builtins.eval")
    assert not is_trusted_type("os.system")


def test_trusted_entries_admit_their_module_and_nothing_beside_it():
    assert is_trusted_type("mypkg.steps.LogShift", ("mypkg.steps",))
    assert is_trusted_type("mypkg.steps.LogShift", ("mypkg.steps.LogShift",))
    assert not is_trusted_type("mypkg.stepsextra.LogShift", ("mypkg.steps",))
    assert not is_trusted_type("mypkg.steps.LogShift", ())


def test_versions_are_numbered_and_production_follows_promote_and_rollback(registry: ModelStore):
    first = registry.register("m", [StoredFile("model", "model.skops", b"1")], _fields(1))
    second = registry.register("m", [StoredFile("model", "model.skops", b"2")], _fields(2))
    assert (first, second) == (1, 2)
    assert registry.serving_version("m") == 2  # newest when no alias is set
    registry.promote("m", 1)
    registry.promote("m", 2)
    assert registry.serving_version("m") == 2
    assert registry.rollback("m") == 1
    assert registry.serving_version("m") == 1
    assert [r.aliases for r in registry.versions("m")] == [["production"], []]
    with pytest.raises(NotFoundError, match="no earlier 'production' version"):
        registry.rollback("m")
    with pytest.raises(NotFoundError, match="has no version 7"):
        registry.promote("m", 7)


def test_empty_registry_says_there_is_no_version(registry: ModelStore):
    """Only the message: the CLI and the service each add how to train one, once (issue 12, item 9)."""
    with pytest.raises(NoModelError, match=r"^model 'iris' has no versions yet$"):
        registry.serving_version("iris")


class _FailingStore:
    def __init__(self, inner):
        self.inner = inner

    def put(self, key, data):
        raise OSError("disk full")

    def get(self, key):
        return self.inner.get(key)

    def delete(self, key):
        self.inner.delete(key)

    def describe(self, key):
        return key


def test_failed_upload_leaves_no_visible_version(registry: ModelStore):
    broken = ModelStore(registry.metadata, _FailingStore(registry.artifacts))
    with pytest.raises(OSError, match="disk full"):
        broken.register("m", [StoredFile("model", "model.skops", b"x")], _fields())
    assert registry.versions("m") == []


def test_failed_metadata_write_removes_the_uploaded_file(registry: ModelStore, tmp_path):
    incomplete = {k: v for k, v in _fields().items() if k != "estimator"}  # NOT NULL column left out
    with pytest.raises(sa.exc.IntegrityError):
        registry.register("m", [StoredFile("model", "model.skops", b"x")], incomplete)
    assert registry.versions("m") == []
    leftovers = [p for p in Path(registry.artifacts.root).rglob("*") if p.is_file()]
    assert leftovers == []


def test_auto_promote_keeps_a_better_production(trained_iris, tmp_path):
    from tests.support.settings import make_settings

    _, outcome = trained_iris
    settings = make_settings(tmp_path)
    with open_registry(settings) as registry:
        first = register_trained(registry, settings, outcome.trained)
        assert first.promoted
        worse = outcome.trained
        worse_metrics = {**worse.metrics, "holdout_score": worse.metrics["holdout_score"] - 0.1}
        second = register_trained(
            registry, settings, type(worse)(**{**worse.__dict__, "metrics": worse_metrics})
        )
        assert not second.promoted
        assert registry.serving_version("iris") == first.version
        equal = register_trained(registry, settings, outcome.trained)
        assert equal.promoted and registry.serving_version("iris") == equal.version


def _register_many(url: str, artifacts: str, count: int, queue) -> None:
    with ModelStore.open(url, artifacts) as registry:
        numbers = [
            registry.register("race", [StoredFile("model", "m", b"x")], _fields()) for _ in range(count)
        ]
    queue.put(numbers)


def test_concurrent_writers_get_distinct_versions(tmp_path):
    url, artifacts = f"sqlite:///{tmp_path / 'r.db'}", str(tmp_path / "a")
    with ModelStore.open(url, artifacts) as registry:
        registry.metadata.ensure_schema()
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    workers = [context.Process(target=_register_many, args=(url, artifacts, 10, queue)) for _ in range(3)]
    for worker in workers:
        worker.start()
    numbers = sorted(n for _ in workers for n in queue.get(timeout=60))
    for worker in workers:
        worker.join(timeout=60)
    assert numbers == list(range(1, 31))


def test_first_version_is_production_even_without_auto_promote(trained_iris, tmp_path):
    from tests.support.settings import make_settings

    _, outcome = trained_iris
    settings = make_settings(tmp_path, registry={"auto_promote": False})
    with open_registry(settings) as registry:
        first = register_trained(registry, settings, outcome.trained)
        second = register_trained(registry, settings, outcome.trained)
        assert first.promoted and not second.promoted
        assert registry.serving_version("iris") == first.version


def test_recorded_config_keeps_no_password_or_token(tmp_path):
    from tabserve.workflow import recorded_config
    from tests.support.settings import make_settings

    url = "mysql+pymysql://tabserve:S3CRETPW@db:3306/tabserve"
    settings = make_settings(
        tmp_path, data={"source": "sql", "url": url, "table": "iris"}, server={"token": "tok-123"}
    )
    recorded = str(recorded_config(settings))
    assert "S3CRETPW" not in recorded and "tok-123" not in recorded
    assert "mysql+pymysql://tabserve:***@db:3306/tabserve" in recorded
