"""Classifiers without predict_proba: trained, registered and served with labels only."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import Perceptron, RidgeClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

import tabserve
from tabserve.config import Settings
from tabserve.errors import OutputUnavailableError
from tabserve.inputs import parse_payload
from tabserve.predictor import Predictor
from tabserve.registry import open_registry
from tabserve.registry.records import NO_PROBABILITIES
from tabserve.service.app import create_app, with_fast_predict
from tabserve.workflow import train_and_register
from tests.support.settings import make_settings

SVC_ONLY = [{"estimator": "sklearn.svm.SVC", "grid": {"C": [1]}}]
ROW = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}


@pytest.fixture(scope="module")
def svc_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    settings = make_settings(
        tmp_path_factory.mktemp("svc"),
        candidates=SVC_ONLY,
        registry={"pictures": False},
        server={"allow_unauthenticated": True},
        monitoring={"drift": False},
    )
    outcome = train_and_register(settings)
    assert outcome.promoted
    return settings


def test_a_config_svc_trains_promotes_and_predicts_labels(svc_settings: Settings) -> None:
    with open_registry(svc_settings) as registry:
        predictor = Predictor.load(registry, "iris")
        record = registry.get("iris", predictor.version)
    assert predictor.outputs == ("labels",)
    batch = parse_payload([ROW, {**ROW, "petal_length": 5.5, "petal_width": 2.1}], predictor.schema, 10)
    out = predictor.predict(batch)
    assert out.labels == ["setosa", "virginica"] and out.probabilities is None
    assert record.detail()["probabilities"] == NO_PROBABILITIES
    assert "no predict_proba" in record.metrics["serving"]
    with pytest.raises(OutputUnavailableError, match="version 1: probabilities not available"):
        predictor.require("probabilities")


@pytest.mark.parametrize("estimator", [LinearSVC(), RidgeClassifier(), Perceptron(random_state=0)])
def test_register_takes_a_classifier_without_predict_proba(tmp_path: Path, estimator) -> None:
    x, y = load_iris(return_X_y=True, as_frame=True)
    x.columns = list(ROW)
    model = make_pipeline(StandardScaler(), estimator).fit(x, y.map(dict(enumerate("abc"))))
    settings = make_settings(tmp_path, registry={"pictures": False})
    stored = tabserve.register(
        model,
        name="m",
        X_sample=x.head(8),
        X_test=x.tail(20),
        y_test=y.tail(20).map(dict(enumerate("abc"))),
        registry=settings,
    )
    assert stored.promoted and stored.metrics["outputs"] == ["labels"]
    with open_registry(settings) as registry:
        predictor = Predictor.load(registry, "m")
    out = predictor.predict(parse_payload(x.head(3).to_dict("records"), predictor.schema, 10))
    assert out.labels == model.predict(x.head(3)).tolist() and out.probabilities is None


@contextlib.asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The app with its lifespan running, asked in-process, once /readyz says ready."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=with_fast_predict(app))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            for _ in range(400):
                if (await client.get("/readyz")).status_code == 200:
                    break
                await asyncio.sleep(0.05)
            yield client


@pytest.fixture
def client(svc_settings: Settings) -> Iterator[ServedClient]:
    yield ServedClient(svc_settings)


class ServedClient:
    """Each call runs in a fresh in-process server (its lifespan started and stopped)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def _call(self, method: str, url: str, **kwargs) -> httpx.Response:
        async def go() -> httpx.Response:
            async with serving(self.settings) as client:
                response = await client.request(method, url, **kwargs)
                await response.aread()
                return response

        return asyncio.run(go())

    def get(self, url: str, **kwargs) -> httpx.Response:
        return self._call("GET", url, **kwargs)

    def post(self, url: str, **kwargs) -> httpx.Response:
        return self._call("POST", url, **kwargs)


def test_tabserve_json_and_csv_answers_have_labels_only(client: ServedClient) -> None:
    answer = client.post("/predict", json=[ROW])
    assert answer.status_code == 200, answer.text
    assert answer.json()["labels"] == ["setosa"] and "probabilities" not in answer.json()
    single = client.post("/predict", json=list(ROW.values()))
    assert single.status_code == 200, single.text
    assert "probabilities" not in single.json()
    csv = client.post(
        "/predict",
        content=",".join(ROW) + "\n" + ",".join(map(str, ROW.values())) + "\n",
        headers={"content-type": "text/csv"},
    )
    assert csv.status_code == 200, csv.text
    assert csv.text.splitlines() == ["prediction", "setosa"]


def test_oip_metadata_and_answers_have_no_predict_proba(client: ServedClient) -> None:
    meta = client.get("/v2/models/iris")
    assert [o["name"] for o in meta.json()["outputs"]] == ["predict"]
    body = {"inputs": [{"name": n, "datatype": "FP64", "shape": [1], "data": [v]} for n, v in ROW.items()]}
    answer = client.post("/v2/models/iris/infer", json=body)
    assert answer.status_code == 200, answer.text
    assert [o["name"] for o in answer.json()["outputs"]] == ["predict"]
    asked = client.post("/v2/models/iris/infer", json={**body, "outputs": [{"name": "predict_proba"}]})
    assert 400 <= asked.status_code < 500 and "predict_proba" in asked.text


def test_kserve_and_mlflow_answer_labels_and_refuse_probabilities(client: ServedClient) -> None:
    v1 = client.post("/v1/models/iris:predict", json={"instances": [list(ROW.values())]})
    assert v1.status_code == 200 and v1.json()["predictions"] == ["setosa"]
    mlflow = client.post("/invocations", json={"dataframe_records": [ROW]})
    assert mlflow.status_code == 200 and mlflow.json()["predictions"] == ["setosa"]
    asked = client.post("/invocations", json={"dataframe_records": [ROW], "params": {"probabilities": True}})
    assert 400 <= asked.status_code < 500 and "probabilities" in json.dumps(asked.json())


def test_console_and_models_show_say_probabilities_are_not_available(
    client: ServedClient, svc_settings
) -> None:
    page = client.get("/ui/models/iris/versions/1")
    assert page.status_code == 200
    assert "probabilities: not available (estimator has no predict_proba)" in page.text


def test_cli_predict_answers_the_label_alone(svc_settings: Settings, tmp_path: Path, capsys) -> None:
    from tabserve.cli import main

    config = tmp_path / "svc.json"
    config.write_text(json.dumps(svc_settings.model_dump(mode="json", exclude={"server": {"token"}})))
    assert main(["predict", "-c", str(config), "--json", *map(str, ROW.values())]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["label"] == "setosa" and "probabilities" not in answer
    rows = tmp_path / "rows.csv"
    rows.write_text(",".join(ROW) + "\n" + ",".join(map(str, ROW.values())) + "\n")
    assert main(["predict", "-c", str(config), "--input", str(rows)]) == 0
    assert capsys.readouterr().out.splitlines()[0] == ",".join([*ROW, "prediction"])
    assert main(["models", "show", "1", "-c", str(config)]) == 0
    assert json.loads(capsys.readouterr().out)["probabilities"] == NO_PROBABILITIES
    own = json.loads(config.read_text())
    own["registry"].update(url=f"sqlite:///{tmp_path / 'own.db'}", artifacts=str(tmp_path / "own"))
    config.write_text(json.dumps(own))
    assert main(["train", "-c", str(config)]) == 0
    assert f"probabilities: {NO_PROBABILITIES}" in capsys.readouterr().out
