"""A serving-only install (the `serve` image: tabserve without the `train` extra) serves everything it
stored and refuses to train, with a clear 501, never an ImportError turned 500.

The serve-only interpreter is simulated by a meta-path finder that makes the `train` extra's packages
unimportable in a fresh subprocess; every serve path a client reaches is then exercised over HTTP.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tabserve.extras import HOW_TO_TRAIN, missing, require_train_extra
from tabserve.registry import open_registry
from tabserve.workflow import train_and_register
from tests.support.settings import make_settings

ROOT = Path(__file__).resolve().parents[2]
TRAIN_ONLY = ("matplotlib", "seaborn", "skl2onnx", "onnx", "connectorx", "dask", "distributed")

BLOCKER = textwrap.dedent(
    """
    import importlib.abc, sys

    class TrainExtraMissing(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ModuleNotFoundError(f"No module named {name!r} (serve-only test)", name=name)
            return None

    sys.meta_path.insert(0, TrainExtraMissing())
    """
)


def run_serve_only(script: str) -> dict:
    """Run ``script`` (after the blocker) in a fresh interpreter; the JSON it prints last."""
    source = f"BLOCKED = {TRAIN_ONLY!r}\n{BLOCKER}\n{textwrap.dedent(script)}"
    done = subprocess.run(
        [sys.executable, "-c", source], capture_output=True, text=True, timeout=240, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_train_extra_is_detected_without_importing_it():
    assert missing(("matplotlib", "skl2onnx")) == []  # the dev install has everything
    assert missing(("tabserve_no_such_package",)) == ["tabserve_no_such_package"]
    answer = run_serve_only(
        """
        import json, sys
        from tabserve.errors import ServeOnlyError
        from tabserve.extras import can_draw, missing, require_train_extra
        try:
            require_train_extra("tabserve train")
            message = None
        except ServeOnlyError as exc:
            message = str(exc)
        print(json.dumps({"missing": missing(("matplotlib", "seaborn", "skl2onnx")),
                          "can_draw": can_draw(), "message": message}))
        """
    )
    assert answer["missing"] == ["matplotlib", "seaborn", "skl2onnx"] and not answer["can_draw"]
    assert answer["message"].startswith("tabserve train: this install serves models only and cannot train")
    assert HOW_TO_TRAIN in answer["message"]
    require_train_extra("tabserve train")  # and here, with the extra, nothing is raised


@pytest.mark.slow
def test_a_serve_only_install_serves_stored_versions_and_refuses_to_train(tmp_path: Path):
    settings = make_settings(tmp_path, server={"models": ["iris", "customers"]})
    iris = train_and_register(settings)  # pictures on (the default): both are stored with the version
    customers = make_settings(
        tmp_path,
        model="customers",
        data={"source": "csv", "path": str(ROOT / "examples/customers.csv"), "target": "churned"},
        split={"test_per_class": 10},
        candidates=[{"estimator": "sklearn.linear_model.LogisticRegression"}],
        registry={"pictures": False},  # stands in for a version made before pictures were stored
    )
    train_and_register(customers)
    registry = open_registry(settings)
    stored = registry.get("iris", iris.version)
    assert {"pairplot", "confusion_matrix"} <= set(stored.artifacts)
    assert not {"pairplot", "confusion_matrix"} & set(registry.get("customers", 1).artifacts)
    pairplot = registry.read_file(stored, "pairplot")
    registry.close()

    answer = run_serve_only(
        f"""
        import hashlib, json, sys, time
        from starlette.testclient import TestClient
        from tabserve.config import load_settings
        from tabserve.service.app import create_app

        settings = load_settings(environ={{}}, overrides={{
            "registry": {{"url": {settings.registry.url!r}, "artifacts": {settings.registry.artifacts!r}}},
            "server": {{"models": ["iris", "customers"]}},
            "logging": {{"file": None}},
        }})
        out = {{}}
        with TestClient(create_app(settings)) as client:
            deadline = time.monotonic() + 120
            while client.get("/readyz").status_code != 200:
                assert time.monotonic() < deadline, client.get("/readyz").text
                time.sleep(0.05)
            out["iris"] = client.post("/predict", content=b"[5.1, 3.8, 1.5, 0.3]").json()["labels"]
            row = {{"tenure_months": 3, "monthly_fee": 90.0, "support_tickets": 6, "plan": "basic",
                    "region": "north"}}
            answer = client.post("/models/customers/predict", json={{"instances": [row]}})
            out["customers"] = [answer.status_code, answer.json().get("labels")]
            picture = client.get("/models/iris/versions/{iris.version}/confusion_matrix.png")
            out["confusion"] = [picture.status_code, picture.headers["content-type"]]
            picture = client.get("/visualise/pairplot.png")
            out["pairplot"] = [picture.status_code, hashlib.sha256(picture.content).hexdigest()]
            out["page"] = client.get("/visualise").status_code
            train_page = client.get("/ui/train")
            out["train_page"] = [train_page.status_code, "data-train-form" in train_page.text,
                                 "This install serves models only and cannot train" in train_page.text]
            old = client.get("/models/customers/versions/1/confusion_matrix.png")
            out["old_picture"] = [old.status_code, old.json()["detail"]]
            for path, body in (("/train", None), ("/models/customers/train", None),
                               ("/ui/api/models/iris/train", {{}})):
                refused = client.post(path, json=body)
                out[path] = [refused.status_code, refused.json()["detail"]]
            out["jobs"] = client.get("/jobs").json()
        out["imported"] = sorted({{m.split(".")[0] for m in sys.modules}} & set(BLOCKED))
        print(json.dumps(out))
        """
    )
    assert answer["iris"] == ["setosa"]
    status, labels = answer["customers"]
    assert status == 200 and labels[0] in ("no", "yes")  # the categorical model, by scikit-learn
    assert answer["confusion"] == [200, "image/png"]
    import hashlib

    assert answer["pairplot"] == [200, hashlib.sha256(pairplot).hexdigest()]  # the stored file itself
    assert answer["page"] == 200
    assert answer["train_page"] == [200, False, True]  # the reason, not a form that can only get a 501
    status, detail = answer["old_picture"]
    assert status == 404
    assert "model 'customers' version 1 was stored without its confusion matrix picture" in detail
    assert "this install serves only" in detail
    for path in ("/train", "/models/customers/train", "/ui/api/models/iris/train"):
        status, detail = answer[path]
        assert status == 501, (path, detail)
        assert "this install serves models only and cannot train" in detail and HOW_TO_TRAIN in detail
    assert answer["jobs"]["jobs"] == [], "a refused train leaves no job behind"
    assert answer["imported"] == []
