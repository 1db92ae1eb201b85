"""The `tabserve` command, run the way a user runs it: in a fresh folder."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from tabserve.cli import main

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """An empty folder as the working directory: a fresh registry under ./var."""
    monkeypatch.chdir(tmp_path)
    for name in [n for n in os.environ if n.startswith("TABSERVE_")]:
        monkeypatch.delenv(name)
    (tmp_path / "fast.yaml").write_text("search:\n  n_jobs: 1\nlogging:\n  file: var/tabserve.log\n")
    return tmp_path


def run(*args: str) -> subprocess.CompletedProcess:
    tabserve = Path(sys.executable).with_name("tabserve")
    return subprocess.run([str(tabserve), *args], capture_output=True, text=True, timeout=120)


@pytest.mark.slow
def test_train_then_predict_in_an_empty_directory(workdir):
    trained = run("train")
    assert trained.returncode == 0, trained.stderr
    assert "model iris version 1 (production)" in trained.stdout
    cv = float(
        next(line for line in trained.stdout.splitlines() if line.startswith("cv accuracy")).split()[-1]
    )
    assert cv > 0.9
    holdout = trained.stdout.split("hold-out accuracy: ")[1].split()[0]
    assert float(holdout) >= 0.9
    predicted = run("predict", "5.1", "3.8", "1.5", "0.3")
    assert predicted.returncode == 0, predicted.stderr
    assert predicted.stdout.splitlines()[0] == "setosa"
    assert (workdir / "var" / "registry.db").exists()
    assert "fits done: 31/31" in trained.stderr  # progress as plain lines off a terminal


def test_predict_json_csv_and_models_commands(workdir, capsys):
    assert main(["train", "-c", "fast.yaml"]) == 0
    capsys.readouterr()
    assert main(["predict", "-c", "fast.yaml", "--json", "6.7", "3.0", "5.2", "2.3"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["label"] == "virginica" and answer["version"] == 1
    assert set(answer["probabilities"]) == {"setosa", "versicolor", "virginica"}

    rows = pd.DataFrame(
        {
            "id": [1, 2],
            "sepal_length": [5.1, 6.7],
            "sepal_width": [3.8, 3.0],
            "petal_length": [1.5, 5.2],
            "petal_width": [0.3, 2.3],
        }
    )
    rows.to_csv("rows.csv", index=False)
    assert main(["predict", "-c", "fast.yaml", "--input", "rows.csv", "--output", "out.csv"]) == 0
    # the one rule for extra columns: ignored for the prediction, named on stderr, kept in the output
    assert "warning: ignored column(s) the model does not take: id" in capsys.readouterr().err
    out = pd.read_csv("out.csv")
    assert list(out.columns) == [
        *rows.columns,
        "prediction",
        "proba_setosa",
        "proba_versicolor",
        "proba_virginica",
    ]
    assert list(out["prediction"]) == ["setosa", "virginica"]
    assert list(out["id"]) == [1, 2]

    assert main(["train", "-c", "fast.yaml"]) == 0
    capsys.readouterr()
    assert main(["models", "list", "-c", "fast.yaml"]) == 0
    listing = capsys.readouterr().out.splitlines()
    assert listing[0].startswith("v1") and listing[1].startswith("v2 [production]")
    assert main(["models", "promote", "1", "-c", "fast.yaml"]) == 0
    assert main(["models", "rollback", "-c", "fast.yaml"]) == 0
    assert "production -> v2 (rolled back)" in capsys.readouterr().out
    assert main(["models", "show", "2", "-c", "fast.yaml"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["version"] == 2 and shown["data_rows"] == 150


def test_errors_are_one_line_with_exit_codes(workdir, capsys):
    assert main(["predict", "5.1", "3.8", "1.5", "0.3"]) == 1
    assert capsys.readouterr().err.startswith("tabserve: error: no registry at sqlite:///var/registry.db ")
    (workdir / "bad.yaml").write_text("serch: {}\n")
    assert main(["train", "-c", "bad.yaml"]) == 2
    assert capsys.readouterr().err == "tabserve: config error: bad.yaml: serch: unknown key\n"
    assert main(["train", "-c", "fast.yaml"]) == 0
    capsys.readouterr()
    # The CLI's words go through the same checks, with the same messages, as a JSON request's row;
    # being what was typed, they are usage errors (exit 2).
    assert main(["predict", "-c", "fast.yaml", "5.1", "x", "1.5", "0.3"]) == 2
    assert (
        capsys.readouterr().err
        == "tabserve: usage error: row 0, column 'sepal_width': expected a number, got 'x'\n"
    )
    assert main(["predict", "-c", "fast.yaml", "5.1", "inf", "1.5", "0.3"]) == 2
    assert "row 0, column 'sepal_width': expected a finite number, got inf" in capsys.readouterr().err
    assert main(["predict", "-c", "fast.yaml", "5.1", "3.8"]) == 2
    assert "row 0: expected 4 values (sepal_length, sepal_width" in capsys.readouterr().err
    os.environ["TABSERVE_MODEL"] = "wine"
    try:
        assert main(["predict", "-c", "fast.yaml", "5.1", "3.8", "1.5", "0.3"]) == 1
    finally:
        del os.environ["TABSERVE_MODEL"]
    assert capsys.readouterr().err == (
        "tabserve: error: model 'wine' has no versions yet; train one with `tabserve train`\n"
    )
    assert main(["models", "show", "9", "-c", "fast.yaml"]) == 1
    assert "has no version 9" in capsys.readouterr().err
    assert main(["predict", "-c", "fast.yaml", "1e308", "1e308", "1e308", "1e308"]) == 1
    assert "values are outside the range the model can score" in capsys.readouterr().err


def test_usage_error_exits_2(workdir):
    result = run("predict", "--model-version", "notanumber")
    assert result.returncode == 2
    assert "invalid int value" in result.stderr


def test_debug_shows_the_traceback(workdir):
    result = run("models", "show", "3", "--debug")
    assert result.returncode == 1
    assert "Traceback" in result.stderr and "NoModelError: no registry at" in result.stderr


def test_visualise_writes_a_png(workdir, capsys):
    assert main(["visualise", "-o", "pairs.png"]) == 0
    assert (workdir / "pairs.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_visualise_names_a_missing_target_as_training_does(workdir, capsys):
    (workdir / "wrong.yaml").write_text("data:\n  target: specie\n")
    assert main(["visualise", "-c", "wrong.yaml", "-o", "pairs.png"]) == 1
    shown = capsys.readouterr().err
    assert main(["train", "-c", "wrong.yaml"]) == 1
    assert capsys.readouterr().err == shown
    assert "data.target: column 'specie' is not in the table (the table has 5 column(s))" in shown
    assert not (workdir / "pairs.png").exists()


def test_data_load_then_train_from_sql(workdir, capsys):
    url = f"sqlite:///{workdir / 'data.db'}"
    assert main(["data", "load", "--from", "iris", "--to", url, "--table", "flowers"]) == 0
    assert "loaded 150 rows into table flowers" in capsys.readouterr().out
    assert main(["data", "load", "--from", "iris", "--to", url, "--table", "flowers"]) == 1
    assert "already exists" in capsys.readouterr().err
    (workdir / "sql.yaml").write_text(
        f"data:\n  source: sql\n  url: {url}\n  table: flowers\nsearch:\n  n_jobs: 1\n"
    )
    assert main(["train", "-c", "sql.yaml"]) == 0
    assert "model iris version 1" in capsys.readouterr().out


def test_logging_goes_to_the_configured_file_as_json(workdir, capsys):
    (workdir / "json.yaml").write_text(
        "search:\n  n_jobs: 1\nlogging:\n  format: json\n  file: logs/run.jsonl\n"
    )
    assert main(["train", "-c", "json.yaml"]) == 0
    lines = [json.loads(line) for line in (workdir / "logs" / "run.jsonl").read_text().splitlines()]
    assert lines, "no log lines written"
    assert {"time", "level", "module", "function", "line", "message"} <= set(lines[0])
    assert any("registered iris version 1" in entry["message"] for entry in lines)
    assert capsys.readouterr().err.count("INFO") == 0  # the terminal stays quiet without -v


def test_models_list_takes_the_model_to_show(workdir, capsys):
    from tabserve.config import load_settings
    from tabserve.registry import open_registry

    with open_registry(load_settings("fast.yaml")) as registry:
        registry.metadata.ensure_schema()  # an empty registry: list reads it, never makes one
    assert main(["-c", "fast.yaml", "models", "list", "--model", "wine"]) == 0
    assert "model wine has no versions" in capsys.readouterr().out


def test_serve_model_flags_become_server_models():
    from tabserve.cli import build_parser

    args = build_parser().parse_args(["serve", "--model", "iris", "--model", "wine"])
    assert args.models == ["iris", "wine"]
    assert build_parser().parse_args(["serve"]).models is None


def test_predict_takes_the_model_by_name_and_names_a_missing_input_file(workdir, capsys):
    assert main(["train", "-c", "fast.yaml"]) == 0
    (workdir / "wine.yaml").write_text(
        "model: wine\nsearch:\n  n_jobs: 1\nlogging:\n  file: var/tabserve.log\n"
    )
    capsys.readouterr()
    # --model is its own option, not an abbreviation of --model-version
    assert main(["predict", "-c", "wine.yaml", "--model", "iris", "--json", "6.7", "3.0", "5.2", "2.3"]) == 0
    assert json.loads(capsys.readouterr().out)["label"] == "virginica"
    assert main(["predict", "-c", "fast.yaml", "--model", "nope", "5.1", "3.5", "1.4", "0.2"]) == 1
    assert "nope" in capsys.readouterr().err
    assert main(["predict", "-c", "fast.yaml", "--input", "missing.csv"]) == 2
    err = capsys.readouterr().err
    assert "--input: missing.csv is not a file" in err and "data.path" not in err


def test_visualise_into_a_missing_folder_is_a_clear_usage_error(workdir, capsys):
    assert main(["visualise", "-o", str(workdir / "missing" / "dir" / "x.png")]) == 2
    err = capsys.readouterr().err
    assert "usage error: -o: the folder" in err and "does not exist" in err
    assert "unexpected" not in err and "FileNotFoundError" not in err


def test_a_missing_target_lists_the_first_twenty_columns_on_the_command_line(workdir, capsys):
    wide = pd.DataFrame({f"col{i}": [i, i + 1] for i in range(25)})
    wide.to_csv(workdir / "wide.csv", index=False)
    (workdir / "wide.yaml").write_text("data:\n  source: csv\n  path: wide.csv\n  target: label\n")
    assert main(["train", "-c", "wide.yaml"]) == 1
    err = capsys.readouterr().err
    assert "data.target: column 'label' is not in the table (the table has 25 column(s))" in err
    assert "the table's columns: 'col0', 'col1'" in err and "'col19' and 5 more" in err
    assert "'col20'" not in err


def test_a_bad_since_is_a_usage_error_not_a_config_error(workdir, capsys):
    out = workdir / "p.csv"
    assert (
        main(["-c", "fast.yaml", "data", "export-predictions", "--since", "yesterday", "-o", str(out)]) == 2
    )
    err = capsys.readouterr().err
    assert "usage error: --since: 'yesterday' is neither a duration" in err and "config error" not in err


def test_export_predictions_without_a_config_keeps_an_existing_file(workdir, capsys):
    out = workdir / "labelled.csv"
    out.write_text("sepal_length,prediction\n5.1,setosa\n")
    assert main(["data", "export-predictions", "--since", "7d", "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert "labelled.csv was left as it is" in err and "give -c" in err
    assert out.read_text() == "sepal_length,prediction\n5.1,setosa\n"


@pytest.mark.parametrize(
    ("variable", "closest"),
    [("TABSERVE_SEARCH_CV", "TABSERVE_SEARCH__CV"), ("TABSERVE_MODLE", "TABSERVE_MODEL")],
)
def test_a_tabserve_variable_that_matches_no_setting_warns_naming_the_closest(variable, closest, caplog):
    from tabserve.config import load_settings

    settings = load_settings(environ={variable: "4"})
    assert settings.search.cv == 3 and settings.model == "iris"  # ignored, as before, but not silently
    assert f"{variable} matches no tabserve setting and is ignored; did you mean {closest}?" in caplog.text
    caplog.clear()
    load_settings(
        environ={"TABSERVE_CONFIG": "", "TABSERVE_TEST_POSTGRES_URL": "x", "TABSERVE_SEARCH__CV": "4"}
    )
    assert "matches no tabserve setting" not in caplog.text
