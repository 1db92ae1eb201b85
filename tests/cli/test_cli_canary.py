"""`tabserve models canary`: start, show, promote and stop a canary from a terminal, with the same
rules as HTTP (a bad weight is a usage error naming it)."""

from __future__ import annotations

from tabserve.cli import main
from tabserve.config import load_settings
from tabserve.registry import open_registry
from tests.support.servers import register_copy


def _canary(config):
    registry = open_registry(load_settings(config, environ={}))
    try:
        return registry.metadata.active_canary("iris"), registry.metadata.alias_version("iris")
    finally:
        registry.close()


def test_start_show_promote_from_the_cli(iris_config, capsys):
    register_copy(iris_config)
    config = str(iris_config)
    assert main(["models", "canary", "2", "--weight", "20", "-c", config]) == 0
    running, production = _canary(iris_config)
    assert (running.version, running.weight, running.actor, production) == (2, 20, "cli", 1)
    assert main(["models", "canary", "-c", config]) == 0
    assert "canary: v2 at 20%" in capsys.readouterr().out
    assert main(["models", "canary", "2", "--promote", "-c", config]) == 0
    running, production = _canary(iris_config)
    assert running is None and production == 2
    assert main(["models", "canary", "-c", config]) == 0
    assert "v2 at 20%: promoted" in capsys.readouterr().out


def test_stop_ends_the_canary_and_leaves_production(iris_config):
    register_copy(iris_config)
    config = str(iris_config)
    assert main(["models", "canary", "2", "--weight", "30", "-c", config]) == 0
    assert main(["models", "canary", "--stop", "-c", config]) == 0
    assert _canary(iris_config) == (None, 1)
    assert main(["models", "canary", "--stop", "-c", config]) == 1  # none running
    registry = open_registry(load_settings(iris_config, environ={}))
    try:
        moves = registry.metadata.alias_history("iris", alias="canary")
    finally:
        registry.close()
    assert [(m.action, m.actor, m.reason) for m in moves] == [
        ("remove", "cli", "stopped by cli"),
        ("promote", "cli", "canary at 30% of production traffic"),
    ]


def test_bad_canary_commands_are_usage_errors_naming_the_problem(iris_config, capsys):
    register_copy(iris_config)
    config = str(iris_config)
    assert main(["models", "canary", "2", "--weight", "100", "-c", config]) == 2
    assert "weight must be a whole percent from 1 to 99" in capsys.readouterr().err
    assert main(["models", "canary", "--weight", "20", "-c", config]) == 2
    assert main(["models", "canary", "2", "--weight", "20", "--stop", "-c", config]) == 2
    assert main(["models", "canary", "2", "-c", config]) == 2
    assert main(["models", "list", "--stop", "-c", config]) == 2
    assert main(["models", "canary", "1", "--weight", "20", "-c", config]) == 1  # production already
    assert _canary(iris_config) == (None, 1)
