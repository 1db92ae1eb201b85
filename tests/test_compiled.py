"""The serving fast path gives the same answers as scikit-learn, or is not used."""

import logging

import numpy as np
import pandas as pd
import pytest

from tabserve.compiled import CompiledRunner, compile_pipeline
from tabserve.data import load_dataset
from tabserve.inputs import Batch
from tabserve.predictor import Predictor, SklearnRunner
from tabserve.training import fit_search
from tabserve.workflow import open_registry, register_trained
from tests.conftest import make_settings

ESTIMATORS = [
    ("sklearn.linear_model.LogisticRegression", {"C": [0.5]}),
    ("sklearn.tree.DecisionTreeClassifier", {"max_depth": [3]}),
    ("sklearn.discriminant_analysis.LinearDiscriminantAnalysis", {}),
    ("sklearn.ensemble.RandomForestClassifier", {"n_estimators": [20]}),
    ("sklearn.naive_bayes.GaussianNB", {}),
    ("sklearn.neighbors.KNeighborsClassifier", {"n_neighbors": [5]}),
]


def _random_rows(count: int) -> np.ndarray:
    rng = np.random.default_rng(42)
    return rng.uniform([3.5, 1.5, 0.5, 0.0], [8.5, 5.0, 7.5, 3.0], size=(count, 4))


@pytest.mark.slow
@pytest.mark.parametrize(("estimator", "grid"), ESTIMATORS)
def test_compiled_model_matches_scikit_learn(tmp_path, estimator, grid):
    settings = make_settings(tmp_path, candidates=[{"estimator": estimator, "grid": grid}])
    trained = fit_search(settings, load_dataset(settings.data))
    result = compile_pipeline(trained.pipeline, trained.schema, trained.reference_rows)
    if result.bundle is None:
        pytest.fail(f"{estimator} was not compiled: {result.reason}")
    runner = CompiledRunner(result.bundle)
    rows = np.vstack([trained.reference_rows, _random_rows(100_000)])
    rows[::97, 1] = np.nan  # missing values are imputed the same way
    frame = pd.DataFrame(rows, columns=trained.schema.names)
    got = runner.predict_proba(Batch(len(rows), rows, None))
    np.testing.assert_allclose(got, trained.pipeline.predict_proba(frame), atol=1e-6, rtol=0)
    labels = np.asarray(trained.schema.classes)[got.argmax(axis=1)]
    assert (labels == trained.pipeline.predict(frame)).all()


def test_registered_numeric_model_is_served_compiled(trained_iris):
    settings, outcome = trained_iris
    registry = open_registry(settings)
    record = registry.get("iris", outcome.version)
    assert "compiled" in record.artifacts
    assert record.metrics["serving"].startswith("compiled ")
    assert isinstance(Predictor.load(registry, "iris").runner, CompiledRunner)
    registry.close()


def test_categorical_model_falls_back_to_scikit_learn_with_a_log_line(tmp_path, caplog):
    settings = make_settings(
        tmp_path,
        data={"source": "csv", "path": "examples/customers.csv", "target": "churned"},
        split={"test_per_class": 10},
        candidates=[{"estimator": "sklearn.linear_model.LogisticRegression"}],
    )
    trained = fit_search(settings, load_dataset(settings.data))
    registry = open_registry(settings)
    outcome = register_trained(registry, settings, trained)
    assert "compiled" not in registry.get("iris", outcome.version).artifacts
    with caplog.at_level(logging.INFO, logger="tabserve"):
        predictor = Predictor.load(registry, "iris")
    registry.close()
    assert isinstance(predictor.runner, SklearnRunner)
    assert "served by scikit-learn (categorical features are served by scikit-learn)" in caplog.text


def test_bundle_loads_without_pickle(trained_iris):
    settings, outcome = trained_iris
    registry = open_registry(settings)
    bundle = registry.read_file(registry.get("iris", outcome.version), "compiled")
    registry.close()
    with np.load(__import__("io").BytesIO(bundle), allow_pickle=False) as arrays:
        assert set(arrays.files) == {"onnx", "dtype", "medians", "mean", "scale", "classes"}
