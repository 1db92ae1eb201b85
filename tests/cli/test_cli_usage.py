"""The CLI as a newcomer meets it: help, --version, exit codes, missing values, nothing created by reading."""

import argparse
import json
import os
import re
import socket
from datetime import datetime
from importlib.metadata import version

import pytest
import yaml

from tabserve.cli import build_parser, main
from tests.support.servers import copy_registry

ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


@pytest.fixture
def empty(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in [n for n in os.environ if n.startswith("TABSERVE_")]:
        monkeypatch.delenv(name)
    return tmp_path


@pytest.fixture(scope="module")
def trained(tmp_path_factory, trained_iris):
    """A config on a copy of the session's iris registry: what `tabserve train` leaves (version 1)."""
    folder = tmp_path_factory.mktemp("usage")
    config = folder / "fast.yaml"
    registry = copy_registry(trained_iris[0], folder / "registry")
    settings = {"search": {"n_jobs": 1}, "registry": registry, "logging": {"file": None}}
    config.write_text(yaml.safe_dump(settings))
    return str(config)


def test_version_is_the_package_version(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out == f"tabserve {version('tabserve')}\n"


def walk(parser: argparse.ArgumentParser, path: str = "tabserve"):
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from walk(child, f"{path} {name}")


def test_every_command_and_option_says_what_it_is():
    for path, parser in walk(build_parser()):
        assert parser.description, f"{path} has no description"
        assert "`" not in parser.description, f"{path}: backticks show literally in --help"
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for choice in action._choices_actions:
                    assert choice.help, f"{path} {choice.dest} has no help"
            else:
                assert action.help, f"{path} {'/'.join(action.option_strings) or action.dest} has no help"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["predict", "5.1", "3.8"],
            "expected 4 values (sepal_length, sepal_width, petal_length, petal_width)",
        ),
        (["predict"], "give one row's feature values, or --input FILE.csv"),
        (["predict", "1", "2", "3", "4", "--output", "x.csv"], "--output goes with --input"),
        (["models", "show"], "models show needs a VERSION number"),
        (["models", "promote"], "models promote needs a VERSION number"),
        (["models", "list", "3"], "models list takes no VERSION (got 3)"),
        (["models", "rollback", "2"], "models rollback takes no VERSION (got 2)"),
    ],
)
def test_wrong_arguments_are_usage_errors(trained, capsys, args, message):
    assert main([*args, "-c", trained]) == 2
    err = capsys.readouterr().err
    assert err.startswith("tabserve: usage error: ") and message in err and err.count("\n") == 1


def test_an_empty_value_is_missing_and_imputed(trained, capsys):
    assert main(["predict", "-c", trained, "--json", "5.1", "", "1.5", "0.3"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["label"] == "setosa"
    assert sum(answer["probabilities"].values()) == pytest.approx(1.0)


@pytest.mark.parametrize(
    "args",
    [
        ["models", "list"],
        ["models", "show", "1"],
        ["models", "promote", "1"],
        ["models", "rollback"],
        ["predict", "5.1", "3.8", "1.5", "0.3"],
    ],
)
def test_commands_that_read_never_create_a_registry(empty, capsys, args):
    assert main(args) == 1
    assert capsys.readouterr().err.startswith(
        "tabserve: error: no registry at sqlite:///var/registry.db (var/registry.db does not exist): "
    )
    assert list(empty.iterdir()) == [], "a read-only command left files behind"


def test_a_misspelt_environment_section_names_the_variable(empty, capsys, monkeypatch):
    monkeypatch.setenv("TABSERVE_SERCH__CV", "5")
    assert main(["train"]) == 2
    assert capsys.readouterr().err == "tabserve: config error: env TABSERVE_SERCH__CV: serch: unknown key\n"


def test_invalid_yaml_is_one_line(empty, capsys):
    (empty / "bad.yaml").write_text("search:\n  cv: [1\n  x: 2\n")
    assert main(["train", "-c", "bad.yaml"]) == 2
    assert capsys.readouterr().err == (
        "tabserve: config error: bad.yaml: not valid YAML or JSON: line 3, column 4: "
        "expected ',' or ']', but got ':'\n"
    )


def test_times_are_iso_utc_in_json_and_local_in_listings(trained, capsys):
    assert main(["models", "show", "1", "-c", trained]) == 0
    created = json.loads(capsys.readouterr().out)["created_at"]
    assert ISO_UTC.match(created), created
    moment = datetime.fromisoformat(created.replace("Z", "+00:00"))
    assert main(["models", "list", "-c", trained]) == 0
    listed = capsys.readouterr().out.splitlines()[0]
    assert moment.astimezone().strftime("%Y-%m-%d %H:%M") in listed


def test_a_busy_port_is_one_line_and_exit_1(empty, capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["serve", "--port", str(port)]) == 1
    assert capsys.readouterr().err == (
        f"tabserve: error: cannot serve on 127.0.0.1:{port}: the port is in use by another process; "
        "stop it or pick another port with --port N (make run PORT=N)\n"
    )
