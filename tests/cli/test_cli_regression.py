"""The CLI on a regression model: the train report, models list/show, predict a number with an interval."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from tabserve.cli import main

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """The shipped example trained once in a folder of its own (its registry under var/)."""
    root = tmp_path_factory.mktemp("cli-regression")
    for name in ("regression.yaml", "houses.csv", "houses-rows.csv"):
        shutil.copy(EXAMPLES / name, root / name)
    with open(root / "regression.yaml", "a") as config:
        registry = f"{{url: 'sqlite:///{root}/registry.db', artifacts: '{root}/artifacts', pictures: false}}"
        config.write(f"registry: {registry}\nlogging: {{file: null}}\n")
    return root


@pytest.fixture
def config(trained, monkeypatch, capsys) -> str:
    monkeypatch.chdir(trained)
    if not (trained / "registry.db").exists():
        assert main(["train", "-c", "regression.yaml"]) == 0
        report = capsys.readouterr().out
        assert "task: regression (configured: task: regression)" in report
        assert (
            "hold-out RMSE: " in report
            and "R²: " in report
            and "residuals (actual - predicted): q0.05" in report
        )
        assert "interval coverage on the hold-out (leave-one-out): 80% -> " in report
    return "regression.yaml"


def _model_value(trained: Path, row: dict) -> float:
    from tabserve.config import load_settings
    from tabserve.registry import open_registry

    registry = open_registry(load_settings(trained / "regression.yaml", environ={}))
    try:
        pipeline = registry.load_model(registry.get("houses", 1))
    finally:
        registry.close()
    return float(pipeline.predict(pd.DataFrame([row]).astype({"district": object}))[0])


def test_predict_prints_the_number_and_the_interval(config, trained, capsys):
    expected = _model_value(trained, {"area": 120.0, "rooms": 4, "age": 15.0, "district": "north"})
    assert main(["predict", "-c", config, "120", "4", "15", "north"]) == 0
    assert float(capsys.readouterr().out.strip()) == pytest.approx(expected, rel=1e-5)
    assert main(["predict", "-c", config, "--interval", "0.9", "120", "4", "15", "north"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert float(lines[0]) == pytest.approx(expected, rel=1e-5)
    assert lines[1].startswith("  90% interval: ")
    lower, upper = (float(v) for v in lines[1].split(": ")[1].split(" to "))
    assert lower < expected < upper


def test_predict_json_and_csv(config, trained, capsys):
    assert main(["predict", "-c", config, "--json", "--interval", "0.8", "120", "4", "", ""]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["model"] == "houses" and answer["version"] == 1
    assert answer["interval"]["coverage"] == 0.8
    assert answer["interval"]["lower"] < answer["prediction"] < answer["interval"]["upper"]
    args = ["predict", "-c", config, "--input", "houses-rows.csv", "--output", "out.csv", "--interval", "0.9"]
    assert main(args) == 0
    assert capsys.readouterr().out.startswith("wrote 2 predictions to out.csv")
    out = pd.read_csv(trained / "out.csv")
    assert list(out.columns) == ["area", "rooms", "age", "district", "prediction", "lower", "upper"]
    assert ((out["lower"] < out["prediction"]) & (out["prediction"] < out["upper"])).all()
    assert main(["predict", "-c", config, "--input", "houses-rows.csv"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == "area,rooms,age,district,prediction"


@pytest.mark.parametrize(
    ("coverage", "message"),
    [("1.5", "--interval: coverage must be"), ("0.995", "interval: 0.995 coverage needs at least 199")],
)
def test_bad_interval_is_a_usage_error(config, capsys, coverage, message):
    assert main(["predict", "-c", config, "--interval", coverage, "120", "4", "15", "north"]) == 2
    assert message in capsys.readouterr().err


def test_models_list_and_show(config, capsys):
    assert main(["models", "list", "-c", config]) == 0
    assert "hold-out rmse " in capsys.readouterr().out
    assert main(["models", "show", "1", "-c", config]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["task"] == "regression" and {"rmse", "mae", "r2"} <= set(shown["metrics"])
