"""schemathesis with every check against a real server, with and without a token (issue 9, finding 12).

``st run --checks all`` runs the examples, coverage (boundaries, missing
parameters, methods the schema does not list) and fuzzing phases with
positive and negative data: no 5xx, every status, content type, header and
body as documented, schema-invalid input refused, an undeclared method 405
with an accurate ``Allow``.

One relaxation, for routes whose input only the served model or the server's
config can judge (predict, the protocol adapters, train): a schema-valid body
may still be refused with 400 or 422 (columns the model does not have, an
estimator outside the allowlist). Every other check applies to them as well.

Without a token the run really trains, promotes and rolls back, so the
config keeps a training run to two quick fits. Bounded by ``EXAMPLES`` per
operation; each run takes about a minute on two cores.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.support.servers import Server, copy_registry, write_config

ST = str(Path(sys.executable).with_name("st"))
EXAMPLES = 15
TOKEN = "fuzz-token"
SKIPPED = "/visualise/pairplot.png"  # seconds per draw on a cold cache; covered in test_routes
MODEL_JUDGED = r"(predict|infer|invocations|train)$"
MODEL_JUDGED_ACCEPTED = ["2xx", "400", "401", "403", "404", "409", "422", "429"]
QUICK_CANDIDATES = [{"estimator": "sklearn.linear_model.LogisticRegression", "grid": {"C": [1.0]}}]


def _st_config(root: Path) -> Path:
    path = root / "schemathesis.toml"
    statuses = ", ".join(f'"{s}"' for s in MODEL_JUDGED_ACCEPTED)
    path.write_text(
        "[[operations]]\n"
        f"include-path-regex = '{MODEL_JUDGED}'\n"
        "[operations.checks.positive_data_acceptance]\n"
        f"expected-statuses = [{statuses}]\n"
    )
    return path


@pytest.mark.slow
@pytest.mark.parametrize("token", [None, TOKEN], ids=["no-token", "token"])
def test_api_passes_every_schemathesis_check(tmp_path, trained_iris, token):
    server_section = {"token": token} if token else {}
    registry = copy_registry(trained_iris[0], tmp_path / "registry")
    config = write_config(tmp_path, registry, server=server_section, search={"cv": 2})
    config.write_text(yaml.safe_dump({**yaml.safe_load(config.read_text()), "candidates": QUICK_CANDIDATES}))
    server = Server(config)
    try:
        server.wait()
        spec = server.client.get("/openapi.json").json()
        train = spec["paths"]["/train"]["post"]
        assert ("security" in train) == bool(token)  # the bearer scheme only when a token is set
        command = [
            ST,
            "--config-file",
            str(_st_config(tmp_path)),
            "run",
            f"{server.url}/openapi.json",
            "--checks",
            "all",
            "--mode",
            "all",
            "--max-examples",
            str(EXAMPLES),
            "--workers",
            "1",
            "--generation-deterministic",
            "--exclude-path",
            SKIPPED,
            "--phases",
            "examples,coverage,fuzzing",
        ]
        if token:
            command += ["--header", f"Authorization: Bearer {token}"]
        result = subprocess.run(command, capture_output=True, text=True, timeout=900, cwd=tmp_path)
        assert result.returncode == 0, result.stdout[-12000:] + result.stderr[-2000:]
        assert "No issues found" in result.stdout or " passed" in result.stdout, result.stdout[-3000:]
        served = _requests_served(server)
        assert served >= 500, served  # the cases really reached the server
    finally:
        server.terminate()


def _requests_served(server: Server) -> float:
    lines = server.client.get("/metrics").text.splitlines()
    return sum(
        float(line.rsplit(" ", 1)[1]) for line in lines if line.startswith("tabserve_http_requests_total{")
    )
