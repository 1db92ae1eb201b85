"""Guards for the serving fast path (not timings: those live in benchmarks/serve.py)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

SETOSA = b"[5.1, 3.8, 1.5, 0.3]"


def test_serving_imports_no_training_or_plotting_code(trained_iris):
    """Build the app, load the model and predict in a fresh interpreter; then list heavy modules."""
    settings, _ = trained_iris
    script = textwrap.dedent(
        f"""
        import sys
        from starlette.testclient import TestClient
        from tabserve.config import load_settings
        from tabserve.service.app import create_app

        settings = load_settings(environ={{}}, overrides={{
            "registry": {{"url": {settings.registry.url!r}, "artifacts": {settings.registry.artifacts!r}}},
            "logging": {{"file": None}},
        }})
        with TestClient(create_app(settings)) as client:
            for _ in range(200):
                if client.get("/readyz").status_code == 200:
                    break
                import time; time.sleep(0.05)
            answer = client.post("/predict", content=b"[5.1, 3.8, 1.5, 0.3]")
            assert answer.json()["labels"] == ["setosa"], answer.text
        heavy = ("matplotlib", "seaborn", "pandas", "sklearn", "skl2onnx", "skops", "tabserve.training",
                 "tabserve.compiled")
        print(",".join(sorted(m for m in sys.modules if m.split(".")[0] in heavy or m in heavy)))
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""
