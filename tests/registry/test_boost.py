"""XGBoost and LightGBM: trained from a config and registered from Python, stored without pickle,
served with the notebook's answers in the user's labels."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import skops.io
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_iris
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import tabserve
from tabserve.errors import ConfigError, IntegrityError, UntrustedTypesError
from tabserve.exchange import export_version, import_version
from tabserve.inputs import batch_from_frame
from tabserve.predictor import Predictor
from tabserve.registry import StoredFile
from tabserve.registry.boosters import split_booster
from tabserve.registry.serialization import check_types, dump_model, listed_types
from tabserve.workflow import train_and_register
from tests.support.notebook_models import customers
from tests.support.settings import make_settings

xgboost = pytest.importorskip("xgboost")
lightgbm = pytest.importorskip("lightgbm")

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
TOLERANCE = 1e-6


@pytest.fixture(scope="module")
def iris() -> tuple[pd.DataFrame, np.ndarray, list[str]]:
    data = load_iris(as_frame=True)
    frame = data.data.rename(columns=lambda c: c.replace(" (cm)", "").replace(" ", "_"))
    return frame, data.target.to_numpy(), [str(n) for n in data.target_names]


@pytest.fixture
def notebook_registry(tmp_path: Path) -> tabserve.Registry:
    with tabserve.Registry(settings=make_settings(tmp_path)) as registry:
        yield registry


def _served(registry: tabserve.Registry, name: str, frame: pd.DataFrame) -> tuple[Predictor, object]:
    predictor = Predictor.load(registry.store, name)
    return predictor, predictor.predict(batch_from_frame(frame, predictor.schema))


def _mixed(model: object) -> Pipeline:
    prep = ColumnTransformer(
        [
            ("numbers", StandardScaler(), ["age", "spend"]),
            ("plan", OneHotEncoder(handle_unknown="ignore"), ["plan"]),
        ]
    )
    return Pipeline([("prep", prep), ("model", model)])


def test_bare_xgboost_on_encoded_labels_answers_in_the_given_classes_compiled(notebook_registry, iris):
    frame, codes, names = iris
    model = xgboost.XGBClassifier(n_estimators=30, max_depth=3, random_state=0).fit(frame, codes)
    result = tabserve.register(
        model,
        name="iris-xgb",
        X_sample=frame.head(30),
        X_test=frame,
        y_test=codes,  # the notebook's encoded labels are taken too
        classes=names,
        registry=notebook_registry,
    )
    assert result.serving.startswith("compiled XGBClassifier for ONNX Runtime")
    assert result.metrics["confusion_matrix"]["labels"] == names
    predictor, served = _served(notebook_registry, "iris-xgb", frame)
    assert type(predictor.runner).__name__ == "CompiledRunner"
    assert served.labels == [names[c] for c in model.predict(frame)]
    np.testing.assert_allclose(served.probabilities, model.predict_proba(frame), atol=TOLERANCE, rtol=0)
    schema = notebook_registry.version("iris-xgb")["feature_schema"]
    assert (schema["classes"], schema["model_classes"]) == (names, ["0", "1", "2"])
    assert notebook_registry.version("iris-xgb")["estimator"] == "xgboost.XGBClassifier"


def test_bare_lightgbm_with_missing_values_compiles_and_keeps_its_answers(notebook_registry, iris):
    frame, codes, names = iris
    labels = np.asarray(names)[codes]
    holes = frame.mask(np.random.default_rng(0).random(frame.shape) < 0.1)
    model = lightgbm.LGBMClassifier(n_estimators=40, verbose=-1, random_state=0).fit(holes, labels)
    result = tabserve.register(model, name="iris-lgbm", X_sample=holes, registry=notebook_registry)
    assert result.serving.startswith("compiled LGBMClassifier for ONNX Runtime")
    _, served = _served(notebook_registry, "iris-lgbm", holes)
    assert served.labels == model.predict(holes).tolist()
    np.testing.assert_allclose(served.probabilities, model.predict_proba(holes), atol=TOLERANCE, rtol=0)


@pytest.mark.parametrize("library", ["xgboost", "lightgbm"])
def test_pipeline_after_a_column_transformer_serves_the_notebooks_answers(notebook_registry, library):
    x, y = customers()
    classes = sorted(y.unique())
    if library == "xgboost":
        pipeline = _mixed(xgboost.XGBClassifier(n_estimators=30, random_state=0))
        pipeline.fit(x[:180], y[:180].map({c: i for i, c in enumerate(classes)}))
        given = {"classes": classes}
    else:
        pipeline = _mixed(lightgbm.LGBMClassifier(n_estimators=30, verbose=-1, random_state=0))
        pipeline.fit(x[:180], y[:180])
        given = {}
    result = tabserve.register(
        pipeline,
        name="churn",
        X_sample=x[:20],
        X_test=x[180:],
        y_test=y[180:],
        registry=notebook_registry,
        **given,
    )
    assert "categorical features are served by scikit-learn" in result.serving
    _, served = _served(notebook_registry, "churn", x)
    expected = pipeline.predict(x)
    if library == "xgboost":
        expected = np.asarray(classes)[expected]
    assert served.labels == expected.tolist()
    np.testing.assert_allclose(served.probabilities, pipeline.predict_proba(x), atol=TOLERANCE, rtol=0)
    assert set(result.metrics["per_class"]) == set(classes)


def test_model_files_hold_no_booster_and_no_pickle_and_a_tampered_booster_is_refused(notebook_registry, iris):
    frame, codes, names = iris
    model = xgboost.XGBClassifier(n_estimators=5, random_state=0).fit(frame, codes)
    tabserve.register(model, name="iris-xgb", X_sample=frame, classes=names, registry=notebook_registry)
    store = notebook_registry.store
    record = store.get("iris-xgb", 1)
    model_file = store.read_file(record, "model")
    found = check_types(model_file, "test", ())  # every type trusted by the built-in rule
    assert "xgboost.sklearn.XGBClassifier" in found
    assert not [t for t in found if "Booster" in t or t.startswith(("pickle", "builtins.eval"))]
    booster = store.read_file(record, "booster")
    assert json.loads(booster)["learner"]["gradient_booster"]  # XGBoost's own JSON model format
    assert record.artifacts["booster"]["key"].endswith("booster.json")

    path = Path(store.artifacts.root) / record.artifacts["booster"]["key"]  # one tree's leaf changed
    path.write_bytes(booster.replace(b'"base_weights":[', b'"base_weights":[1.5,', 1))
    with pytest.raises(IntegrityError, match=r"booster file .* failed its checksum"):
        Predictor.load(store, "iris-xgb")
    with pytest.raises(IntegrityError, match="booster file"):
        notebook_registry.load("iris-xgb")


@pytest.mark.parametrize(
    "make", [lambda: xgboost.XGBClassifier(n_estimators=3), lambda: lightgbm.LGBMClassifier(n_estimators=3)]
)
def test_a_skops_file_with_the_booster_inside_is_refused(make, iris):
    frame, codes, _ = iris
    whole = skops.io.dumps(make().fit(frame, codes))
    with pytest.raises(UntrustedTypesError, match="Booster"):
        check_types(whole, "a model file", ())


@pytest.mark.parametrize(
    "make",
    [
        lambda: xgboost.XGBRegressor(n_estimators=20, max_depth=4),
        lambda: lightgbm.LGBMRegressor(n_estimators=20, verbose=-1),
    ],
)
def test_regressors_are_stored_without_pickle_and_load_with_the_same_answers(registry, make, iris):
    frame, codes, _ = iris
    model = make().fit(frame, frame["petal_width"] * 2 + codes)
    shell, booster = split_booster(model)
    assert booster is not None and getattr(shell, "_Booster", None) is None
    assert model._Booster is not None  # the fitted model itself is untouched
    data = dump_model(shell)
    assert not [t for t in listed_types(data, "test") if "Booster" in t]
    files = [StoredFile("model", "model.skops", data), StoredFile("booster", booster.filename, booster.data)]
    fields = {
        "estimator": "x",
        "params": {},
        "metrics": {},
        "cv_results": [],
        "feature_schema": {},
        "data_rows": 0,
        "data_hash": "",
        "libraries": {},
        "config": {},
    }
    version = registry.register("reg", files, fields)
    loaded = registry.load_model(registry.get("reg", version))
    np.testing.assert_array_equal(loaded.predict(frame), model.predict(frame))


def test_classes_must_name_every_class_once(notebook_registry, iris):
    frame, codes, names = iris
    model = xgboost.XGBClassifier(n_estimators=3).fit(frame, codes)
    with pytest.raises(ConfigError, match="classes gives 2 labels; the model has 3 classes"):
        tabserve.register(model, name="m", X_sample=frame, classes=names[:2], registry=notebook_registry)
    with pytest.raises(ConfigError, match="classes has a label twice"):
        tabserve.register(
            model, name="m", X_sample=frame, classes=["a", "a", "b"], registry=notebook_registry
        )


def test_export_and_import_carry_the_booster(notebook_registry, iris, tmp_path):
    frame, codes, names = iris
    model = lightgbm.LGBMClassifier(n_estimators=10, verbose=-1).fit(frame, codes)
    tabserve.register(model, name="iris", X_sample=frame, classes=names, registry=notebook_registry)
    written = export_version(notebook_registry.store, "iris", 1, tmp_path / "export")
    assert "booster.txt" in written
    with tabserve.Registry(settings=make_settings(tmp_path / "other")) as other:
        stored = import_version(other.store, tmp_path / "export", name=None, promote=None, auto_promote=True)
        _, served = _served(other, stored.model, frame)
    assert served.labels == [names[c] for c in model.predict(frame)]


@pytest.mark.parametrize("estimator", ["xgboost.XGBClassifier", "lightgbm.LGBMClassifier"])
def test_trained_from_a_config_on_iris_answers_in_the_species_names(tmp_path, estimator):
    settings = make_settings(
        tmp_path,
        candidates=[{"estimator": estimator, "grid": {"n_estimators": [20], "max_depth": [3]}}],
    )
    outcome = train_and_register(settings)
    pipeline = outcome.trained.pipeline
    with tabserve.Registry(settings=settings) as registry:
        assert registry.version("iris")["estimator"] == estimator
        frame = load_iris(as_frame=True).data
        frame.columns = outcome.trained.schema.names
        predictor, served = _served(registry, "iris", frame)
    assert type(predictor.runner).__name__ == "CompiledRunner"
    assert set(served.labels) == {"setosa", "versicolor", "virginica"}
    assert served.labels == predictor.schema.names_of(pipeline.predict(frame))
    np.testing.assert_allclose(served.probabilities, pipeline.predict_proba(frame), atol=TOLERANCE, rtol=0)
    assert outcome.trained.metrics["accuracy"] > 0.85


@pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`")
@pytest.mark.parametrize("estimator", ["xgboost.XGBClassifier", "lightgbm.LGBMClassifier"])
def test_trained_from_a_config_on_a_table_with_categories_serves_over_http(tmp_path, estimator):
    from starlette.testclient import TestClient

    from tabserve.config import load_settings
    from tabserve.service.app import create_app

    settings = load_settings(
        EXAMPLES / "customers.yaml",
        environ={},
        overrides={
            "registry": {"url": f"sqlite:///{tmp_path / 'r.db'}", "artifacts": str(tmp_path / "a")},
            "logging": {"file": None},
            "search": {"n_jobs": 1, "cv": 3},
            "candidates": [{"estimator": estimator, "grid": {"n_estimators": [30]}}],
        },
    )
    outcome = train_and_register(settings)
    pipeline = outcome.trained.pipeline
    rows = pd.read_csv(EXAMPLES / "customers.csv").drop(columns=["churned"]).head(25)
    expected = pipeline.predict_proba(rows)
    with TestClient(create_app(settings)) as client:
        for _ in range(400):
            if client.get("/readyz").status_code == 200:
                break
            time.sleep(0.05)
        answer = client.post(
            "/models/churn/predict", json={"instances": json.loads(rows.to_json(orient="records"))}
        )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    classes = outcome.trained.schema.classes
    assert body["classes"] == classes
    assert body["labels"] == outcome.trained.schema.names_of(pipeline.predict(rows))
    got = np.array([body["probabilities"][c] for c in classes]).T
    np.testing.assert_allclose(got, expected, atol=TOLERANCE, rtol=0)


@pytest.mark.filterwarnings("ignore:The argument 'eval_set' is deprecated")
@pytest.mark.parametrize("library", ["xgboost", "lightgbm"])
def test_an_early_stopped_model_keeps_answering_with_its_best_trees(registry, library, iris):
    frame, codes, _ = iris
    noisy = frame + np.random.default_rng(1).normal(0, 0.8, frame.shape)
    if library == "xgboost":
        model = xgboost.XGBClassifier(n_estimators=200, early_stopping_rounds=3, learning_rate=0.5)
        model.fit(noisy[::2], codes[::2], eval_set=[(noisy[1::2], codes[1::2])], verbose=False)
    else:
        model = lightgbm.LGBMClassifier(n_estimators=200, learning_rate=0.5, verbose=-1)
        model.fit(
            noisy[::2],
            codes[::2],
            eval_set=[(noisy[1::2], codes[1::2])],
            callbacks=[lightgbm.early_stopping(3, verbose=False)],
        )
    best = model.best_iteration_ if library == "lightgbm" else model.best_iteration
    assert 0 < best < 150  # stopped early: later trees exist in the booster but do not answer
    shell, booster = split_booster(model)
    files = [
        StoredFile("model", "model.skops", dump_model(shell)),
        StoredFile("booster", booster.filename, booster.data),
    ]
    fields = {
        "estimator": "x",
        "params": {},
        "metrics": {},
        "cv_results": [],
        "feature_schema": {},
        "data_rows": 0,
        "data_hash": "",
        "libraries": {},
        "config": {},
    }
    loaded = registry.load_model(registry.get("m", registry.register("m", files, fields)))
    np.testing.assert_array_equal(loaded.predict_proba(noisy), model.predict_proba(noisy))


@pytest.mark.parametrize("classes", [2, 3])
def test_library_served_lightgbm_answers_through_its_booster_as_predict_proba_does(iris, classes):
    from tabserve.predictor import SklearnRunner
    from tabserve.schema import Feature, FeatureSchema

    frame, codes, _ = iris
    keep = codes < classes
    holes = frame[keep].mask(np.random.default_rng(0).random(frame[keep].shape) < 0.1)
    model = lightgbm.LGBMClassifier(n_estimators=30, verbose=-1).fit(holes, codes[keep])
    schema = FeatureSchema(
        [Feature(n, "numeric") for n in frame.columns], "species", [str(c) for c in range(classes)]
    )
    runner = SklearnRunner(model, schema)
    assert runner.native is not None
    got = runner.predict_proba(batch_from_frame(holes, schema))
    np.testing.assert_array_equal(got, model.predict_proba(holes))
    # Its single-row path (the library's single-row entry) gives the same bits, row by row.
    assert runner.row_model is not None and runner.row_model.joinable
    rows = holes.to_numpy().tolist()
    np.testing.assert_array_equal([runner.row_model.predict_row(row) for row in rows], got)


@pytest.mark.filterwarnings("ignore:The argument 'eval_set' is deprecated")
def test_early_stopped_lightgbm_single_rows_answer_with_its_best_trees(iris):
    from tabserve.lightgbm_row import lightgbm_row

    frame, codes, _ = iris
    noisy = frame + np.random.default_rng(1).normal(0, 0.8, frame.shape)
    model = lightgbm.LGBMClassifier(n_estimators=200, learning_rate=0.5, verbose=-1)
    model.fit(
        noisy[::2],
        codes[::2],
        eval_set=[(noisy[1::2], codes[1::2])],
        callbacks=[lightgbm.early_stopping(3, verbose=False)],
    )
    assert 0 < model.best_iteration_ < 150
    row_path = lightgbm_row(model, frame.shape[1])
    got = [row_path.predict_row(row) for row in noisy.to_numpy().tolist()]
    np.testing.assert_array_equal(got, model.predict_proba(noisy))


def test_a_bare_boosted_regressor_is_left_to_its_library_by_the_compiler(iris):
    from tabserve.compiled import compile_pipeline
    from tabserve.schema import Feature, FeatureSchema

    frame, codes, _ = iris
    model = lightgbm.LGBMRegressor(n_estimators=5, verbose=-1).fit(frame, codes)
    schema = FeatureSchema([Feature(n, "numeric") for n in frame.columns], "y", [])
    result = compile_pipeline(model, schema, frame.to_numpy())
    assert result.bundle is None and "served by its library" in result.reason
