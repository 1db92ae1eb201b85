"""`tabserve models promote/rollback` refuse past a gate (exit 1, naming it), `--force` overrides it on
record, and `tabserve models history` lists every move as a table or JSON."""

from __future__ import annotations

import json

import pytest
import yaml

from tabserve.cli import main
from tests.support.versions import with_worse_version

ONE_CANDIDATE = [{"estimator": "sklearn.linear_model.LogisticRegression", "grid": {"C": [1.0]}}]


@pytest.fixture
def config(tmp_path, trained_iris):
    settings = with_worse_version(trained_iris[0], tmp_path, max_score_drop=0.05)
    path = tmp_path / "tabserve.yaml"
    path.write_text(
        yaml.safe_dump(settings.model_dump(mode="json", include={"registry", "promotion", "logging"}))
    )
    return str(path)


def test_a_refused_promotion_exits_1_naming_the_gate_and_force_is_recorded(config, capsys):
    assert main(["models", "promote", "2", "-c", config]) == 1
    err = capsys.readouterr().err
    assert "model 'iris' version 2: gate max_score_drop: version 2's hold-out score" in err
    assert "; not promoted (a token holder may override it with force: CLI --force" in err
    assert "(allowed: 0.05)" in err and "CLI --force" in err
    assert main(["models", "promote", "2", "-c", config, "--force", "--reason", "A/B test won"]) == 0
    assert capsys.readouterr().out == "iris production -> v2\n"
    assert main(["models", "rollback", "-c", config]) == 0
    capsys.readouterr()
    assert main(["models", "history", "-c", config, "--json", "--limit", "2"]) == 0
    moves = json.loads(capsys.readouterr().out)
    assert [(m["action"], m["from_version"], m["to_version"], m["actor"], m["forced"]) for m in moves] == [
        ("rollback", 2, 1, "cli", False),
        ("promote", 1, 2, "cli", True),
    ]
    assert moves[1]["reason"].startswith("A/B test won (forced past gate max_score_drop:")
    assert main(["models", "history", "-c", config]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4  # the header and three moves
    assert " promote   v1 -> v2  cli    forced  A/B test won (forced past" in lines[2]
    assert lines[3].endswith("the model's first version to serve")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["models", "list", "--force"], "models list takes no --force or --reason"),
        (["models", "history", "--reason", "x"], "models history takes no --force or --reason"),
        (["models", "history", "--limit", "0"], "--limit: 1 to 10000 (got 0)"),
        (["models", "history", "3"], "models history takes no VERSION (got 3)"),
    ],
)
def test_misused_options_are_usage_errors(config, capsys, args, message):
    assert main([*args, "-c", config]) == 2
    assert message in capsys.readouterr().err


def test_a_model_with_no_moves_says_so(config, capsys):
    assert main(["models", "history", "-c", config, "--model", "nobody"]) == 0
    assert capsys.readouterr().out == "model nobody: no alias has moved yet\n"
    assert main(["models", "history", "-c", config, "--model", "nobody", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_train_says_why_a_version_was_not_promoted(tmp_path, trained_iris, capsys):
    settings = with_worse_version(trained_iris[0], tmp_path, min_holdout_rows=1000)
    raw = settings.model_dump(mode="json", include={"registry", "promotion", "logging", "search"})
    path = tmp_path / "train.yaml"
    path.write_text(yaml.safe_dump({**raw, "candidates": ONE_CANDIDATE}))
    assert main(["train", "-c", str(path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "model iris version 3"
    assert lines[1] == (
        "production unchanged: model 'iris' version 3: gate min_holdout_rows: version 3 was scored on "
        "15 hold-out rows (required: at least 1000); not promoted (a token holder may override it with "
        "force: CLI --force, HTTP ?force=true)"
    )


def test_an_imported_version_is_held_back_by_a_gate_and_says_why(tmp_path, trained_iris, capsys):
    settings = with_worse_version(trained_iris[0], tmp_path, min_holdout_rows=1000)
    path = tmp_path / "gated.yaml"
    path.write_text(
        yaml.safe_dump(settings.model_dump(mode="json", include={"registry", "promotion", "logging"}))
    )
    assert main(["models", "export", "1", "-c", str(path), "-o", str(tmp_path / "v1")]) == 0
    capsys.readouterr()
    assert main(["register", str(tmp_path / "v1"), "-c", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("model iris version 3\n")
    assert (
        "production unchanged: model 'iris' version 3: gate min_holdout_rows: version 3 was scored on" in out
    )
    assert main(["register", str(tmp_path / "v1"), "-c", str(path), "--promote"]) == 1
    assert "gate min_holdout_rows: version 4 was scored on" in capsys.readouterr().err
    assert main(["models", "history", "-c", str(path), "--json"]) == 0
    assert [m["to_version"] for m in json.loads(capsys.readouterr().out)] == [1]  # nothing moved


def test_the_python_registry_promotes_with_force_and_lists_the_history(tmp_path, trained_iris):
    import tabserve
    from tabserve.errors import GateRefusedError

    registry = tabserve.Registry(settings=with_worse_version(trained_iris[0], tmp_path, max_score_drop=0.0))
    with registry, pytest.raises(GateRefusedError, match="gate max_score_drop"):
        registry.promote("iris", 2)
    with registry:
        registry.promote("iris", 2, force=True, reason="notebook says so")
        newest = registry.history("iris", limit=1)[0]
    assert (newest["actor"], newest["forced"], newest["to_version"]) == ("python", True, 2)
    assert newest["reason"].startswith("notebook says so (forced past gate max_score_drop")
