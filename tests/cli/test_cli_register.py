"""`tabserve register` and `tabserve models export`: a model file or a folder in, a folder out."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
import skops.io
import yaml

import tabserve
from tabserve.cli import main
from tests.support.notebook_models import custom_pipeline, customers, mixed_pipeline


@pytest.fixture
def run(capsys, monkeypatch):
    """`tabserve ARGS` in this process (the parser and error handling of the real command)."""
    for name in [n for n in os.environ if n.startswith("TABSERVE_")]:
        monkeypatch.delenv(name)

    def invoke(root: Path, *args: str) -> subprocess.CompletedProcess:
        monkeypatch.chdir(root)
        code = main(list(args))
        out = capsys.readouterr()
        return subprocess.CompletedProcess(args, code, out.out, out.err)

    return invoke


def config(root: Path, name: str, **registry: object) -> str:
    root.mkdir(parents=True, exist_ok=True)
    section = {"url": f"sqlite:///{root / 'registry.db'}", "artifacts": str(root / "artifacts"), **registry}
    path = root / "tabserve.yaml"
    path.write_text(yaml.safe_dump({"model": name, "registry": section, "logging": {"file": None}}))
    return str(path)


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("cli-register")
    x, y = customers()
    model = mixed_pipeline(x[:180], y[:180])
    skops.io.dump(model, root / "model.skops")
    x[:20].to_csv(root / "sample.csv", index=False)
    x[180:].assign(churn=y[180:]).to_csv(root / "test.csv", index=False)
    skops.io.dump(custom_pipeline(x[["age", "spend"]], y), root / "custom.skops")
    x[["age", "spend"]][:10].to_csv(root / "numbers.csv", index=False)
    return {"root": root, "model": model, "x_test": x[180:], "y_test": y[180:]}


@pytest.mark.slow
def test_register_a_file_export_it_and_register_the_folder_elsewhere(tmp_path, files, run):
    root = files["root"]
    source = config(tmp_path / "a", "churn")
    registered = run(
        tmp_path,
        "-c",
        source,
        "register",
        str(root / "model.skops"),
        "--sample",
        str(root / "sample.csv"),
        "--test",
        str(root / "test.csv"),
        "--target",
        "churn",
        "--description",
        "refit on March data",
    )
    assert registered.returncode == 0, registered.stderr
    assert registered.stdout.splitlines()[0] == "model churn version 1 (production)"
    shown = run(tmp_path, "-c", source, "models", "show", "1", "--model", "churn")
    assert shown.returncode == 0 and json.loads(shown.stdout)["description"] == "refit on March data"
    listed = run(tmp_path, "-c", source, "models", "list")
    assert listed.returncode == 0 and listed.stdout.startswith("v1 [production]  ")
    assert "  sklearn.ensemble.VotingClassifier {" in listed.stdout
    assert "cv -  hold-out acc" in listed.stdout

    out = tmp_path / "export"
    exported = run(tmp_path, "-c", source, "models", "export", "1", "--model", "churn", "-o", str(out))
    assert exported.returncode == 0, exported.stderr
    assert sorted(p.name for p in out.iterdir()) == [
        "confusion_matrix.png",  # drawn from --test at registration, like a trained version's
        "model.skops",
        "profile.json",
        "sample.json",  # the rows its smoke prediction answers
        "schema.json",
        "version.json",
    ]
    meta = json.loads((out / "version.json").read_text())
    assert (meta["model"], meta["version"]) == ("churn", 1)

    target = config(tmp_path / "b", "other")
    imported = run(tmp_path, "-c", target, "register", str(out), "--name", "moved")
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.splitlines()[0] == "model moved version 1 (production)"
    with tabserve.Registry.from_config(source) as a, tabserve.Registry.from_config(target) as b:
        before, after = a.version("churn", 1), b.version("moved", 1)
        for field in (
            "metrics",
            "feature_schema",
            "data_hash",
            "data_rows",
            "sha256",
            "estimator",
            "params",
            "libraries",
            "description",
        ):
            assert after[field] == before[field], field
        np.testing.assert_array_equal(
            b.load("moved").predict_proba(files["x_test"]), files["model"].predict_proba(files["x_test"])
        )

    refused = run(tmp_path, "-c", target, "models", "export", "1", "--model", "churn", "-o", str(out))
    assert refused.returncode == 1 and "not an empty folder" in refused.stderr


@pytest.mark.slow
def test_a_tampered_or_untrusted_folder_never_becomes_a_version(tmp_path, files, run):
    root = files["root"]
    trusting = config(tmp_path / "a", "custom", trusted_types=["tests.support.custom_transformers"])
    env_ok = run(
        tmp_path,
        "-c",
        trusting,
        "register",
        str(root / "custom.skops"),
        "--sample",
        str(root / "numbers.csv"),
    )
    assert env_ok.returncode == 0, env_ok.stderr
    out = tmp_path / "export"
    assert (
        run(tmp_path, "-c", trusting, "models", "export", "1", "--model", "custom", "-o", str(out)).returncode
        == 0
    )

    plain = config(tmp_path / "b", "custom")
    untrusted = run(tmp_path, "-c", plain, "register", str(out))
    assert untrusted.returncode == 1
    assert (
        "tests.support.custom_transformers.LogShift" in untrusted.stderr
        and "registry.trusted_types" in untrusted.stderr
    )
    file_refused = run(
        tmp_path, "-c", plain, "register", str(root / "custom.skops"), "--sample", str(root / "numbers.csv")
    )
    assert file_refused.returncode == 1 and "registry.trusted_types" in file_refused.stderr

    model = out / "model.skops"
    data = model.read_bytes()
    model.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    tampered = run(tmp_path, "-c", trusting, "register", str(out))
    assert tampered.returncode == 1 and "does not match its sha256" in tampered.stderr
    with tabserve.Registry.from_config(plain) as b, tabserve.Registry.from_config(trusting) as a:
        assert b.models() == [] and [v["version"] for v in a.versions("custom")] == [1]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["register", "nowhere.skops", "--sample", "s.csv"], "neither a skops file nor an export folder"),
        (["register", "{root}/model.skops"], "give --sample"),
        (
            ["register", "{root}/model.skops", "--sample", "{root}/sample.csv", "--test", "{root}/test.csv"],
            "--test needs --target",
        ),
        (["register", "{root}/model.skops", "--sample", "{root}/nope.csv"], "nope.csv"),
        (["register", "{root}", "--sample", "{root}/sample.csv"], "drop --sample"),
        (["models", "export", "-o", "x"], "needs a VERSION number"),
    ],
)
def test_bad_register_and_export_arguments_are_named(tmp_path, files, run, args, message):
    argv = [a.format(root=files["root"]) for a in args]
    result = run(tmp_path, "-c", config(tmp_path, "churn"), *argv)
    assert result.returncode in (1, 2) and message in result.stderr, result.stderr
