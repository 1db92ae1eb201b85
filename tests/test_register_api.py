"""tabserve.register and tabserve.Registry: a model fitted in Python becomes a version like a trained one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, confusion_matrix
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder

import tabserve
from tabserve.errors import BackendUnavailableError, ConfigError, DataError, UntrustedTypesError
from tabserve.inputs import batch_from_frame
from tabserve.predictor import Predictor
from tests.support.notebook_models import custom_pipeline, customers, mixed_pipeline
from tests.support.settings import make_settings

LOGSHIFT = "tests.support.custom_transformers.LogShift"


@pytest.fixture
def notebook_registry(tmp_path: Path) -> tabserve.Registry:
    with tabserve.Registry(settings=make_settings(tmp_path)) as registry:
        yield registry


@pytest.fixture(scope="module")
def split() -> tuple[pd.DataFrame, pd.DataFrame, pd.Series, pd.Series]:
    x, y = customers()
    return x[:180], x[180:], y[:180], y[180:]


@pytest.fixture(scope="module")
def mixed(split) -> Pipeline:
    """The mixed pipeline fitted once on the training split, for tests that register it as it is."""
    x_train, _, y_train, _ = split
    return mixed_pipeline(x_train, y_train)


def test_mixed_pipeline_serves_the_notebooks_answers_and_records_its_metrics(notebook_registry, split):
    x_train, x_test, y_train, y_test = split
    pipeline = mixed_pipeline(x_train, y_train)
    result = tabserve.register(
        pipeline,
        name="churn",
        X_sample=x_train.head(20),
        X_test=x_test,
        y_test=y_test,
        registry=notebook_registry,
        description="soft vote",
    )
    assert (result.version, result.promoted) == (1, True)
    predicted = pipeline.predict(x_test)
    assert result.metrics["accuracy"] == pytest.approx(accuracy_score(y_test, predicted))
    labels = [str(c) for c in pipeline.classes_]
    assert result.metrics["confusion_matrix"] == {
        "labels": labels,
        "matrix": confusion_matrix(y_test, predicted, labels=pipeline.classes_).tolist(),
    }
    detail = notebook_registry.version("churn", 1)
    assert detail["estimator"] == "sklearn.ensemble.VotingClassifier"
    assert detail["params"]["estimators"] == {
        "hgb": "sklearn.ensemble.HistGradientBoostingClassifier",
        "forest": "sklearn.ensemble.RandomForestClassifier",
    }
    assert detail["feature_schema"]["features"] == [
        {"name": "age", "type": "numeric", "categories": None},
        {"name": "spend", "type": "numeric", "categories": None},
        {"name": "plan", "type": "categorical", "categories": ["basic", "plus", "pro"]},
    ]
    assert detail["feature_schema"]["target"] == "churn"
    assert detail["data_rows"] == 20 + len(x_test) and len(detail["data_hash"]) == 64
    assert detail["libraries"]["scikit-learn"] and detail["aliases"] == ["production"]
    assert detail["description"] == "soft vote"

    predictor = Predictor.load(notebook_registry.store, "churn")
    served = predictor.predict(batch_from_frame(x_test, predictor.schema))
    assert served.labels == predicted.astype(str).tolist()
    np.testing.assert_array_equal(served.probabilities, pipeline.predict_proba(x_test))


def test_custom_type_is_refused_until_trusted_and_rechecked_by_the_loading_side(tmp_path, split):
    x_train, _, y_train, _ = split
    numbers = x_train[["age", "spend"]]
    pipeline = custom_pipeline(numbers, y_train)
    with (
        tabserve.Registry(settings=make_settings(tmp_path)) as untrusting,
        tabserve.Registry(
            settings=make_settings(tmp_path, registry={"trusted_types": ["tests"]})
        ) as trusting,
    ):
        _refused_until_trusted(untrusting, trusting, pipeline, numbers, tmp_path)


def _refused_until_trusted(untrusting, trusting, pipeline, numbers, tmp_path) -> None:
    with pytest.raises(UntrustedTypesError) as refused:
        tabserve.register(pipeline, name="custom", X_sample=numbers, registry=untrusting)
    assert refused.value.types == [LOGSHIFT]
    assert "registry.trusted_types" in str(refused.value) and "TABSERVE_REGISTRY__TRUSTED_TYPES" in str(
        refused.value
    )
    assert untrusting.models() == []  # nothing half-stored
    assert not list((tmp_path / "artifacts").rglob("*.skops"))

    assert tabserve.register(pipeline, name="custom", X_sample=numbers, registry=trusting).version == 1
    with pytest.raises(UntrustedTypesError):  # the file itself never widens what a loader trusts
        untrusting.load("custom")
    loaded = trusting.load("custom")
    np.testing.assert_array_equal(loaded.predict_proba(numbers), pipeline.predict_proba(numbers))


def test_a_class_defined_in_the_notebook_itself_is_refused_with_how_to_fix():
    from tabserve.trusted_types import how_to_trust

    assert "move it to a module the server can import" in how_to_trust(["__main__.MyScaler"])


@pytest.mark.parametrize(
    "entry", ["os", "builtins.eval", "subprocess.Popen", "__main__", "not a name", "sklearn"]
)
def test_trusted_types_refuses_code_runners_and_bad_names(tmp_path, entry):
    with pytest.raises(ConfigError, match=r"registry\.trusted_types"):
        make_settings(tmp_path, registry={"trusted_types": [entry]})


def test_array_model_takes_feature_names_and_is_served_without_warnings(notebook_registry, split):
    x_train, x_test, y_train, y_test = split
    matrix = x_train[["age", "spend"]].to_numpy()
    model = LogisticRegression(max_iter=500).fit(matrix, y_train)
    with pytest.raises(DataError, match=r"pass feature_names=\[\.\.\.\]"):
        tabserve.register(model, name="plain", X_sample=matrix[:10], registry=notebook_registry)
    result = tabserve.register(
        model,
        name="plain",
        X_sample=matrix[:10],
        feature_names=["age", "spend"],
        X_test=x_test[["age", "spend"]].to_numpy(),
        y_test=y_test.to_numpy(),
        registry=notebook_registry,
    )
    assert result.metrics["holdout_rows"] == len(x_test)
    predictor = Predictor.load(notebook_registry.store, "plain")
    served = predictor.predict(batch_from_frame(x_test[["age", "spend"]], predictor.schema))
    np.testing.assert_allclose(
        served.probabilities, model.predict_proba(x_test[["age", "spend"]].to_numpy()), atol=1e-9
    )


def test_promotion_follows_the_rule_unless_told(notebook_registry, split, mixed):
    x_train, x_test, _, y_test = split
    model = mixed
    common = {"name": "m", "X_sample": x_train.head(5), "registry": notebook_registry}
    assert tabserve.register(model, promote=False, **common).promoted  # a first version always serves
    assert not tabserve.register(model, **common).promoted  # no hold-out: nothing to beat production with
    assert tabserve.register(model, X_test=x_test, y_test=y_test, **common).promoted  # scores >= 0
    assert not tabserve.register(model, X_test=x_test, y_test=y_test, promote=False, **common).promoted
    assert tabserve.register(model, promote=True, **common).promoted
    versions = notebook_registry.versions("m")
    assert [v["version"] for v in versions if "production" in v["aliases"]] == [5]
    notebook_registry.rollback("m")
    notebook_registry.promote("m", 3)
    assert notebook_registry.version("m")["version"] == 3


def _bool_pipeline() -> tuple[object, pd.DataFrame]:
    frame = pd.DataFrame({"flag": [True, False] * 10})
    model = make_pipeline(OneHotEncoder(handle_unknown="ignore"), LogisticRegression())
    return model.fit(frame, ["a", "b"] * 10), frame


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        ({"model": LogisticRegression()}, ConfigError, "not fitted"),
        ({"model": OneHotEncoder()}, ConfigError, "classifier"),
        ({"name": "no spaces"}, ConfigError, "name"),
        ({"X_test": "rows"}, ConfigError, "both X_test and y_test"),
        ({"X_sample": "no plan"}, DataError, "missing column"),
        ({"X_sample": "no rows"}, DataError, "no rows"),
        ({"X_test": "rows", "y_test": ["nope"] * 60}, DataError, "not classes of the model"),
        ({"X_test": "rows", "y_test": ["keep"]}, DataError, "1 labels for 60 rows"),
        ({"X_sample": np.zeros((3, 2))}, DataError, "2 columns but 3 feature names"),
        ({"registry": 3}, ConfigError, "registry must be"),
    ],
)
def test_bad_arguments_are_named_and_store_nothing(notebook_registry, split, mixed, change, error, message):
    x_train, x_test, _, _ = split
    frames = {"rows": x_test, "no plan": x_train.head(5).drop(columns="plan"), "no rows": x_train.head(0)}
    arguments = {"name": "bad", "X_sample": x_train.head(5), "registry": notebook_registry}
    arguments.update({k: frames.get(v, v) if isinstance(v, str) else v for k, v in change.items()})
    model = arguments.pop("model", None) or mixed
    with pytest.raises(error, match=message):
        tabserve.register(model, **arguments)
    assert notebook_registry.models() == []


def test_a_model_that_answers_differently_as_served_is_refused(notebook_registry):
    model, frame = _bool_pipeline()
    with pytest.raises(DataError, match="answers differently"):
        tabserve.register(model, name="flags", X_sample=frame, registry=notebook_registry)
    assert notebook_registry.models() == []


def test_registry_connects_on_first_use_and_reports_an_outage_by_name(tmp_path):
    with tabserve.Registry(
        "mysql+pymysql://nobody:secret@127.0.0.1:1/none", artifacts=str(tmp_path)
    ) as registry:
        assert "secret" not in repr(registry)
        with pytest.raises(BackendUnavailableError) as outage:
            registry.models()
    assert "secret" not in str(outage.value)


def test_default_registry_is_the_one_the_cli_uses_here(tmp_path, monkeypatch):
    config = tmp_path / "tabserve.yaml"
    config.write_text(
        f"registry:\n  url: sqlite:///{tmp_path}/cli.db\n  artifacts: {tmp_path}/cli-artifacts\n"
    )
    monkeypatch.setenv("TABSERVE_CONFIG", str(config))
    assert tabserve.Registry().config.url == f"sqlite:///{tmp_path}/cli.db"
    assert tabserve.Registry.from_config(config).config.artifacts == f"{tmp_path}/cli-artifacts"


def test_import_tabserve_starts_and_connects_nothing():
    code = (
        "import sys, tabserve; tabserve.Registry; tabserve.register; "
        "heavy = [m for m in ('sqlalchemy', 'sklearn', 'fastapi', 'uvicorn') if m in sys.modules]; "
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_notebook_example_registers_into_the_registry_of_the_directory_it_runs_in(tmp_path):
    example = Path(__file__).resolve().parents[1] / "examples" / "notebook.py"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TABSERVE_")}
    out = subprocess.run(
        [sys.executable, "-W", "error", str(example)], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[0] == "churn-notebook version 1, production: True"
    with tabserve.Registry(
        f"sqlite:///{tmp_path}/var/registry.db", artifacts=str(tmp_path / "var/artifacts")
    ) as reg:
        assert reg.models() == ["churn-notebook"]
        assert reg.version("churn-notebook")["metrics"]["confusion_matrix"]["labels"] == ["no", "yes"]


def test_the_untrusted_types_advice_suggests_only_what_the_config_accepts():
    from tabserve.config import load_settings
    from tabserve.trusted_types import how_to_trust

    runner = how_to_trust(["posix.system"])
    assert "trusted_types" not in runner and "posix.system can run code" in runner
    mixed = how_to_trust(["posix.system", "mylib.scalers.LogShift"])
    assert "registry.trusted_types: [mylib.scalers.LogShift]" in mixed and "[posix" not in mixed
    advice = how_to_trust(["mylib.scalers.LogShift"])
    suggested = advice.split("registry.trusted_types: [")[1].split("]")[0]
    load_settings(environ={}, overrides={"registry": {"trusted_types": [suggested]}})  # the config takes it


def test_a_pipeline_records_its_steps_and_the_training_rows_when_given(notebook_registry, split, mixed):
    x_train = split[0]
    pipeline = mixed
    tabserve.register(pipeline, name="churn", X_sample=x_train.head(20), registry=notebook_registry)
    tabserve.register(
        pipeline, name="churn", X_sample=x_train.head(20), data_rows=len(x_train), registry=notebook_registry
    )
    sampled, trained = notebook_registry.version("churn", 1), notebook_registry.version("churn", 2)
    assert sampled["metrics"]["pipeline_steps"] == [
        {"name": "prep", "estimator": "sklearn.compose.ColumnTransformer"},
        {"name": "vote", "estimator": "sklearn.ensemble.VotingClassifier"},
    ]
    assert (sampled["data_rows"], sampled["metrics"]["data_rows_of"]) == (20, "sample")
    assert (trained["data_rows"], trained["metrics"]["data_rows_of"]) == (len(x_train), "training")


@pytest.mark.parametrize("rows", [0, -3, True, 2.5, "180"])
def test_data_rows_must_be_a_positive_whole_number(notebook_registry, split, mixed, rows):
    x_train = split[0]
    pipeline = mixed
    with pytest.raises(ConfigError, match="data_rows must be a positive whole number"):
        tabserve.register(
            pipeline, name="churn", X_sample=x_train.head(5), data_rows=rows, registry=notebook_registry
        )
    assert notebook_registry.models() == []
