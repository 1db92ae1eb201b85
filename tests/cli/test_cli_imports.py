"""The quick commands stay quick: they never import scikit-learn, pandas, matplotlib or SQLAlchemy.

Those imports are most of a command's start-up time (issue 12, item 14), so
the registry commands, a one-row predict and ``--help`` must not pull them in
(on SQLite, registry/sqlite_direct.py reads the registry); ``make bench``
times the same commands.
"""

import json
import os
import subprocess
import sys

import pytest
import yaml

from tabserve.cli import main
from tests.support.servers import copy_registry

HEAVY = ("sklearn", "pandas", "matplotlib", "seaborn", "scipy", "sqlalchemy")

# Runs the CLI in a fresh interpreter and reports which heavy top-level packages got imported.
PROBE = """
import json, sys
from tabserve.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
heavy = sorted({name.split(".")[0] for name in sys.modules} & set(HEAVY_NAMES))
print(json.dumps({"code": code, "heavy": heavy}), file=sys.stderr)
""".replace("HEAVY_NAMES", repr(HEAVY))


def probe(*args: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=120, env=os.environ
    )
    return json.loads(done.stderr.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def trained(tmp_path_factory, trained_iris):
    """A folder with a fast config and two trained iris versions (the session's first, copied)."""
    folder = tmp_path_factory.mktemp("imports")
    config = folder / "fast.yaml"
    registry = copy_registry(trained_iris[0], folder / "registry")
    settings = {"search": {"n_jobs": 1}, "registry": registry, "logging": {"file": None}}
    config.write_text(yaml.safe_dump(settings))
    assert main(["train", "-c", str(config)]) == 0
    return config


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["models", "--help"],
        ["models", "list"],
        ["models", "show", "1"],
        ["models", "promote", "2"],
        ["models", "rollback"],
        ["predict", "5.1", "3.8", "1.5", "0.3"],
        ["predict", "--json", "6.7", "3.0", "5.2", "2.3"],
    ],
    ids=" ".join,
)
def test_quick_commands_import_nothing_heavy(trained, monkeypatch, args):
    monkeypatch.chdir(trained.parent)
    config = [] if "--help" in args else ["-c", str(trained)]
    outcome = probe(*args, *config)
    assert outcome["code"] in (0, None), outcome
    assert outcome["heavy"] == [], f"tabserve {' '.join(args)} imported {outcome['heavy']}"


def test_the_probe_sees_a_heavy_import(trained, monkeypatch):
    """Training needs scikit-learn: the probe must notice, or the test above proves nothing."""
    monkeypatch.chdir(trained.parent)
    outcome = probe("visualise", "-c", str(trained), "-o", str(trained.parent / "pairs.png"))
    assert outcome["code"] == 0 and {"pandas", "matplotlib"} <= set(outcome["heavy"])
