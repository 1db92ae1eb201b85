"""The README's promises that a command can check."""

from pathlib import Path

from pydantic import BaseModel

from tabserve.config import Settings

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def _config_keys() -> list[str]:
    keys = []
    for name, field in Settings.model_fields.items():
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
            keys += [f"{name}.{key}" for key in field.annotation.model_fields]
        else:
            keys.append(name)
    return keys


def test_config_reference_lists_every_key():
    missing = [key for key in _config_keys() if f"| `{key}` |" not in README]
    assert missing == []


def test_quick_start_is_the_two_commands():
    quick_start = README.split("## Quick start")[1].split("##")[0]
    assert "make run" in quick_start and "make test" in quick_start


def test_ci_runs_the_readme_test_command():
    ci = (Path(__file__).resolve().parents[1] / ".ci" / "run").read_text()
    assert "make test" in ci
