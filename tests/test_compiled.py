"""The serving fast path gives the same answers as scikit-learn, or is not used."""

import logging

import numpy as np
import pandas as pd
import pytest

from tabserve.compiled import compile_pipeline
from tabserve.compiled_runtime import BUNDLE_FORMAT, BundleFormatError, CompiledRunner
from tabserve.data import load_dataset
from tabserve.inputs import Batch
from tabserve.predictor import Predictor, SklearnRunner
from tabserve.registry import open_registry
from tabserve.training import fit_search
from tabserve.workflow import register_trained
from tests.support.settings import make_settings

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
    with open_registry(settings) as registry:
        record = registry.get("iris", outcome.version)
        assert "compiled" in record.artifacts
        assert record.metrics["serving"].startswith("compiled ")
        assert isinstance(Predictor.load(registry, "iris").runner, CompiledRunner)


def test_categorical_model_falls_back_to_scikit_learn_with_a_log_line(tmp_path, caplog):
    settings = make_settings(
        tmp_path,
        data={"source": "csv", "path": "examples/customers.csv", "target": "churned"},
        split={"test_per_class": 10},
        candidates=[{"estimator": "sklearn.linear_model.LogisticRegression"}],
    )
    trained = fit_search(settings, load_dataset(settings.data))
    with open_registry(settings) as registry:
        outcome = register_trained(registry, settings, trained)
        assert "compiled" not in registry.get("iris", outcome.version).artifacts
        with caplog.at_level(logging.INFO, logger="tabserve"):
            predictor = Predictor.load(registry, "iris")
    assert isinstance(predictor.runner, SklearnRunner)
    assert "served by scikit-learn (categorical features are served by scikit-learn)" in caplog.text


def test_bundle_loads_without_pickle(trained_iris):
    settings, outcome = trained_iris
    with open_registry(settings) as registry:
        bundle = registry.read_file(registry.get("iris", outcome.version), "compiled")
    with np.load(__import__("io").BytesIO(bundle), allow_pickle=False) as arrays:
        assert int(arrays["bundle_format"]) == BUNDLE_FORMAT
        assert set(arrays.files) == {
            "bundle_format",
            "onnx",
            "dtype",
            "medians",
            "mean",
            "scale",
            "classes",
            "linear_kind",
            "coef",
            "intercept",
        }


@pytest.mark.slow
@pytest.mark.parametrize(
    ("estimator", "classes"),
    [
        ("sklearn.linear_model.LogisticRegression", None),
        ("sklearn.discriminant_analysis.LinearDiscriminantAnalysis", None),
        ("sklearn.linear_model.LogisticRegression", ["versicolor", "virginica"]),  # binary: logistic
    ],
)
def test_single_row_python_path_matches_scikit_learn(tmp_path, estimator, classes):
    data = {"source": "sql", "url": f"sqlite:///{tmp_path / 'd.db'}", "query": "SELECT * FROM iris"}
    if classes:
        data["query"] += " WHERE species IN ({})".format(", ".join(f"'{c}'" for c in classes))
    from tabserve.data import load_iris_frame
    from tabserve.sql import write_table

    write_table(load_iris_frame(), data["url"], "iris")
    settings = make_settings(tmp_path, data=data, candidates=[{"estimator": estimator}])
    trained = fit_search(settings, load_dataset(settings.data))
    result = compile_pipeline(trained.pipeline, trained.schema, trained.reference_rows)
    assert result.bundle is not None and "single rows in pure Python" in result.reason
    row_model = CompiledRunner(result.bundle).row_model
    rows = np.vstack([trained.reference_rows, _random_rows(100_000)])
    rows[::101, 2] = np.nan
    got = np.array([row_model.predict_row(row) for row in rows.tolist()])
    frame = pd.DataFrame(rows, columns=trained.schema.names)
    np.testing.assert_allclose(got, trained.pipeline.predict_proba(frame), atol=1e-6, rtol=0)
    labels = np.asarray(trained.schema.classes)[got.argmax(axis=1)]
    assert (labels == trained.pipeline.predict(frame)).all()


def test_a_converter_that_disagrees_is_caught_and_scikit_learn_serves(tmp_path):
    """skl2onnx's binary LDA gives other probabilities than scikit-learn: the check must notice."""
    from tabserve.data import load_iris_frame
    from tabserve.sql import write_table

    url = f"sqlite:///{tmp_path / 'd.db'}"
    write_table(load_iris_frame(), url, "iris")
    query = "SELECT * FROM iris WHERE species IN ('setosa', 'virginica')"
    settings = make_settings(
        tmp_path,
        data={"source": "sql", "url": url, "query": query},
        candidates=[{"estimator": "sklearn.discriminant_analysis.LinearDiscriminantAnalysis"}],
    )
    trained = fit_search(settings, load_dataset(settings.data))
    result = compile_pipeline(trained.pipeline, trained.schema, trained.reference_rows)
    assert result.bundle is None
    assert "served by scikit-learn" in result.reason and "probabilities differ" in result.reason


def test_tree_models_single_row_path_is_a_joinable_model_call_giving_the_batch_bits(tmp_path):
    settings = make_settings(tmp_path, candidates=[{"estimator": "sklearn.tree.DecisionTreeClassifier"}])
    trained = fit_search(settings, load_dataset(settings.data))
    result = compile_pipeline(trained.pipeline, trained.schema, trained.reference_rows)
    runner = CompiledRunner(result.bundle)
    assert runner.row_model is not None and runner.row_model.joinable
    rows = np.vstack([trained.reference_rows[:50], [[np.nan, 3.0, np.nan, 1.5], [1e300, -1e300, 0.0, 2.0]]])
    with np.errstate(over="ignore"):  # as Predictor.predict calls it: 1e300 overflows float32
        expected = runner.predict_proba(Batch(len(rows), rows, None))
    got = np.array([runner.row_model.predict_row(row) for row in rows.tolist()])
    assert np.array_equal(got, expected)
    with pytest.raises(ValueError, match="expected 4 values"):
        runner.row_model.predict_row([1.0, 2.0])


def _arrays(bundle: bytes) -> dict[str, np.ndarray]:
    import io

    with np.load(io.BytesIO(bundle), allow_pickle=False) as arrays:
        return {name: arrays[name] for name in arrays.files}


def _npz(arrays: dict[str, np.ndarray]) -> bytes:
    import io

    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def test_unnumbered_bundle_with_a_row_path_reads_as_format_1(trained_iris):
    """Bundles written after the row path but before formats were numbered keep their row path."""
    settings, outcome = trained_iris
    with open_registry(settings) as registry:
        bundle = registry.read_file(registry.get("iris", outcome.version), "compiled")
    arrays = _arrays(bundle)
    del arrays["bundle_format"]
    runner = CompiledRunner(_npz(arrays))
    assert runner.row_model is not None
    row = [5.1, 3.8, 1.5, 0.3]
    assert runner.row_model.predict_row(row) == CompiledRunner(bundle).row_model.predict_row(row)


def test_newer_or_incomplete_bundle_is_refused_and_scikit_learn_serves(trained_iris, caplog):
    settings, outcome = trained_iris
    with open_registry(settings) as registry:
        record = registry.get("iris", outcome.version)
        arrays = _arrays(registry.read_file(record, "compiled"))
        with pytest.raises(BundleFormatError, match=f"format {BUNDLE_FORMAT + 1} is newer"):
            CompiledRunner(_npz({**arrays, "bundle_format": np.array(BUNDLE_FORMAT + 1)}))
        without_coef = {k: v for k, v in arrays.items() if k != "coef"}
        with pytest.raises(BundleFormatError, match=f"format {BUNDLE_FORMAT} lacks coef"):
            CompiledRunner(_npz(without_coef))
        with pytest.raises(BundleFormatError, match="not a readable"):
            CompiledRunner(b"not an npz")

        class NewerBundle:
            """The real registry, handing out the version's bundle as a future format."""

            def __getattr__(self, name):
                return getattr(registry, name)

            def read_file(self, record, kind="model"):
                data = registry.read_file(record, kind)
                if kind != "compiled":
                    return data
                return _npz({**_arrays(data), "bundle_format": np.array(BUNDLE_FORMAT + 1)})

        with caplog.at_level(logging.INFO, logger="tabserve"):
            predictor = Predictor.load(NewerBundle(), "iris")
    assert isinstance(predictor.runner, SklearnRunner) and predictor.row_width is None
    assert f"served by scikit-learn (compiled bundle format {BUNDLE_FORMAT + 1} is newer" in caplog.text


def test_bundle_written_before_the_row_path_still_loads(trained_iris):
    """Versions registered by an older tabserve keep loading, on ONNX Runtime only."""
    import io

    settings, outcome = trained_iris
    with open_registry(settings) as registry:
        bundle = registry.read_file(registry.get("iris", outcome.version), "compiled")
    with np.load(io.BytesIO(bundle), allow_pickle=False) as arrays:
        older = {name: arrays[name] for name in ("onnx", "dtype", "medians", "mean", "scale", "classes")}
    buffer = io.BytesIO()
    np.savez(buffer, **older)
    runner = CompiledRunner(buffer.getvalue())
    assert runner.row_model is not None and runner.row_model.joinable  # ONNX Runtime's row, not Python's
    rows = _random_rows(50)
    np.testing.assert_array_equal(
        runner.predict_proba(Batch(50, rows, None)),
        CompiledRunner(bundle).predict_proba(Batch(50, rows, None)),
    )
