"""Relative paths in a config file resolve against its folder; env values and defaults against the cwd."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tabserve.config import load_settings, validate_overrides
from tabserve.config_paths import resolve_path, resolve_sqlite_url
from tabserve.data import read_frame

REPO = Path(__file__).resolve().parents[1]

CONFIG = """\
data:
  source: csv
  path: data/rows.csv
  target: churned
registry:
  url: sqlite:///state/registry.db?timeout=5
  artifacts: state/artifacts
logging:
  file: logs/tabserve.log
server:
  train_sources:
    - {source: csv, path: other.csv, target: y}
    - {source: sql, url: "sqlite:///local.db", table: t, target: y}
"""


@pytest.fixture
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A config folder, and a different working directory to run from."""
    folder = tmp_path / "elsewhere" / "conf"
    folder.mkdir(parents=True)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return folder


def test_relative_paths_in_a_file_resolve_against_its_folder(elsewhere: Path):
    (elsewhere / "tabserve.yaml").write_text(CONFIG)

    settings = load_settings(elsewhere / "tabserve.yaml", environ={})

    assert settings.data.path == str(elsewhere / "data" / "rows.csv")
    assert settings.registry.url == f"sqlite:///{elsewhere / 'state' / 'registry.db'}?timeout=5"
    assert settings.registry.artifacts == str(elsewhere / "state" / "artifacts")
    assert settings.logging.file == str(elsewhere / "logs" / "tabserve.log")
    sources = settings.server.train_sources
    assert sources[0].path == str(elsewhere / "other.csv")
    assert sources[1].url == f"sqlite:///{elsewhere / 'local.db'}"
    assert settings.base_dir == str(elsewhere)


def test_a_config_named_relative_to_the_cwd_gives_paths_relative_to_the_cwd(elsewhere: Path):
    (elsewhere / "tabserve.yaml").write_text(CONFIG)
    os.chdir(elsewhere.parent)

    settings = load_settings("conf/tabserve.yaml", environ={})

    assert settings.data.path == os.path.join("conf", "data", "rows.csv")
    assert Path(settings.data.path).resolve() == (elsewhere / "data" / "rows.csv").resolve()


def test_env_values_and_defaults_stay_relative_to_the_cwd(elsewhere: Path):
    (elsewhere / "tabserve.yaml").write_text("data:\n  source: csv\n  path: data/rows.csv\n")
    environ = {"TABSERVE_DATA__PATH": "mine.csv", "TABSERVE_REGISTRY__ARTIFACTS": "here/artifacts"}

    settings = load_settings(elsewhere / "tabserve.yaml", environ=environ)

    assert settings.data.path == "mine.csv"
    assert settings.registry.artifacts == "here/artifacts"
    assert settings.registry.url == "sqlite:///var/registry.db"  # a default, not written in the file
    assert load_settings(environ={}).base_dir is None


@pytest.mark.parametrize(
    "value",
    ["/abs/rows.csv", "https://files.example/rows.csv", "s3://bucket/prefix", "~/rows.csv", None, ""],
)
def test_absolute_paths_urls_and_non_paths_are_left_alone(value):
    assert resolve_path(value, "/conf") == value


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:////abs/registry.db",
        "sqlite:///:memory:",
        "sqlite://",
        "mysql+pymysql://root@127.0.0.1:3306/x",
        "postgresql+psycopg://u:p@h/db",
    ],
)
def test_only_relative_sqlite_files_are_resolved(url):
    assert resolve_sqlite_url(url, "/conf") == url
    assert resolve_sqlite_url("sqlite:///r.db", "/conf") == "sqlite:////conf/r.db"


def test_overrides_keep_the_config_folder(elsewhere: Path):
    (elsewhere / "tabserve.yaml").write_text(CONFIG)
    settings = load_settings(elsewhere / "tabserve.yaml", environ={})

    assert validate_overrides(settings, {"search": {"cv": 4}}).base_dir == str(elsewhere)


def test_the_examples_customers_config_reads_its_csv_from_another_cwd(elsewhere: Path):
    examples = elsewhere / "examples"
    shutil.copytree(REPO / "examples", examples)

    settings = load_settings(examples / "customers.yaml", environ={})

    assert len(read_frame(settings.data)) > 0
    assert Path(settings.data.path) == examples / "customers.csv"


@pytest.mark.slow
def test_cli_train_with_a_config_elsewhere_finds_its_csv(elsewhere: Path, monkeypatch: pytest.MonkeyPatch):
    shutil.copy(REPO / "examples" / "customers.csv", elsewhere / "customers.csv")
    (elsewhere / "quick.yaml").write_text(
        "model: churn\ndata: {source: csv, path: customers.csv, target: churned}\n"
        "split: {test_per_class: null, test_fraction: 0.2}\nsearch: {cv: 2, n_jobs: 1}\n"
        "candidates:\n  - estimator: sklearn.linear_model.LogisticRegression\n"
    )
    for name in [n for n in os.environ if n.startswith("TABSERVE_")]:
        monkeypatch.delenv(name)
    tabserve = Path(sys.executable).with_name("tabserve")

    done = subprocess.run(
        [str(tabserve), "train", "-c", str(elsewhere / "quick.yaml")],
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert done.returncode == 0, done.stderr
    assert "model churn version 1 (production)" in done.stdout
    assert Path("var/registry.db").exists()  # the default registry: relative to the cwd
    assert not (elsewhere / "var").exists()
