"""Cross-site writes and DNS rebinding: the Host, Origin and content-type rules, in-process."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import yaml

from tabserve.config import ServerSettings
from tabserve.service.app import create_app, with_fast_predict
from tabserve.service.http.same_site import VERDICTS_KEPT, allowed_hosts, host_name
from tests.support.servers import asgi_exchange as _exchange
from tests.support.servers import copy_registry
from tests.support.settings import make_settings

ROW = [5.1, 3.5, 1.4, 0.2]
TOKEN = "s3cret-token"


def _served(tmp_path: Path, trained_iris, **server: object):
    settings, _ = trained_iris
    registry = copy_registry(settings, tmp_path / "registry")
    return with_fast_predict(create_app(make_settings(tmp_path, registry=registry, server=server)))


def test_host_names_parse_with_ports_and_brackets():
    assert host_name("127.0.0.1:5000") == "127.0.0.1"
    assert host_name("[::1]:5000") == "::1"
    assert host_name("LocalHost") == "localhost"
    assert host_name("tabserve.default.svc:80") == "tabserve.default.svc"


def test_default_hosts_are_loopback_without_a_token_and_any_with_one():
    assert allowed_hosts(ServerSettings()) >= {"localhost", "127.0.0.1", "::1"}
    assert "evil.example" not in allowed_hosts(ServerSettings())
    assert allowed_hosts(ServerSettings(token="t")) is None
    assert allowed_hosts(ServerSettings(allowed_hosts=["api.example", "*"])) is None
    assert allowed_hosts(ServerSettings(allowed_hosts=["API.example:443"])) == {"api.example"}


def test_a_foreign_host_is_refused_on_every_path_but_the_probes(tmp_path, trained_iris):
    app = _served(tmp_path, trained_iris)

    async def calls(client: httpx.AsyncClient):
        evil = {"host": "evil.example"}
        return (
            await client.post("/predict", json=ROW, headers=evil),
            await client.get("/models", headers=evil),
            await client.post("/v2/models/iris/infer", json={}, headers=evil),
            await client.get("/healthz", headers=evil),
            await client.get("/readyz", headers=evil),
            await client.post("/predict", json=ROW, headers={"host": "localhost:5000"}),
        )

    predict, models, infer, healthz, readyz, local = _exchange(app, "http://127.0.0.1:5000", calls)
    for refused in (predict, models, infer):
        assert refused.status_code == 400, refused.text
        assert refused.json()["type"] == "urn:tabserve:problem:host-not-allowed"
        assert "server.allowed_hosts" in refused.json()["detail"]
    assert healthz.status_code == 200
    assert readyz.status_code in (200, 503)  # answered, whatever the readiness
    assert local.status_code == 200


def test_remembered_host_verdicts_answer_as_the_first_time(tmp_path, trained_iris):
    """Host values are remembered as allowed or not; a repeat (and a name past the kept
    ones) gets the same verdict as the first request with it."""
    app = _served(tmp_path, trained_iris)
    names = [f"other{i}.example" for i in range(VERDICTS_KEPT + 2)]

    async def calls(client: httpx.AsyncClient):
        out = []
        for host in ["evil.example", "localhost:5000", *names, "evil.example", "localhost:5000"]:
            out.append((await client.post("/predict", json=ROW, headers={"host": host})).status_code)
        out.append((await client.get("/healthz", headers={"host": "evil.example"})).status_code)
        return out

    statuses = _exchange(app, "http://127.0.0.1:5000", calls)
    assert statuses == [400, 200, *[400] * len(names), 400, 200, 200]
    assert len(app.verdicts) == VERDICTS_KEPT


def test_configured_hosts_and_wildcard_domains_are_answered(tmp_path, trained_iris):
    app = _served(tmp_path, trained_iris, allowed_hosts=["*.svc.cluster.local", "models.example"])

    async def calls(client: httpx.AsyncClient):
        return [
            (await client.get("/models", headers={"host": host})).status_code
            for host in ("tabserve.ns.svc.cluster.local", "models.example:8443", "127.0.0.1", "evil.example")
        ]

    assert _exchange(app, "http://127.0.0.1:5000", calls) == [200, 200, 400, 400]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/models/iris/rollback"),
        ("POST", "/models/iris/versions/1/promote"),
        ("POST", "/train"),
        ("POST", "/models/iris/versions/1/shadow"),
        ("DELETE", "/models/iris/shadow"),
        ("POST", "/ui/api/models/iris/train"),
    ],
)
def test_cross_origin_and_form_writes_are_refused_without_a_token(tmp_path, trained_iris, method, path):
    app = _served(tmp_path, trained_iris)

    async def calls(client: httpx.AsyncClient):
        return (
            await client.request(
                method,
                path,
                content=b"x=1",
                headers={"origin": "https://evil.example", "content-type": "application/json"},
            ),
            await client.request(
                method, path, content=b"x=1", headers={"content-type": "application/x-www-form-urlencoded"}
            ),
            await client.request(method, path, content=b'{"a": 1}', headers={"content-type": "text/plain"}),
        )

    cross_origin, form, text = _exchange(app, "http://127.0.0.1:5000", calls)
    assert cross_origin.status_code == 403, cross_origin.text
    assert cross_origin.json()["type"] == "urn:tabserve:problem:cross-origin"
    assert form.status_code == 415, form.text
    assert text.status_code == 415, text.text
    assert "application/json" in text.json()["detail"]


def test_same_origin_json_and_bodyless_writes_still_work(tmp_path, trained_iris):
    app = _served(tmp_path, trained_iris)

    async def calls(client: httpx.AsyncClient):
        return (
            await client.post("/models/iris/versions/1/promote", headers={"origin": "http://127.0.0.1:5000"}),
            await client.post("/models/iris/versions/1/promote"),
            await client.post(
                "/models/iris/versions/1/promote",
                content=b"{}",
                headers={"content-type": "application/json; charset=utf-8"},
            ),
            # predict routes are not writes: a CSV body from anywhere is still a prediction
            await client.post(
                "/predict",
                content=b"sepal_length,sepal_width,petal_length,petal_width\n5.1,3.5,1.4,0.2\n",
                headers={"content-type": "text/csv"},
            ),
        )

    for answer in _exchange(app, "http://127.0.0.1:5000", calls):
        assert answer.status_code == 200, answer.text


def test_a_token_server_answers_any_host_and_still_refuses_cross_origin_writes(tmp_path, trained_iris):
    app = _served(tmp_path, trained_iris, token=TOKEN)
    auth = {"authorization": f"Bearer {TOKEN}"}

    async def calls(client: httpx.AsyncClient):
        return (
            await client.get("/models", headers={"host": "10.0.0.7:5000"}),
            await client.post("/models/iris/rollback", headers={**auth, "origin": "https://evil.example"}),
        )

    models, cross = _exchange(app, "http://tabserve.default.svc", calls)
    assert models.status_code == 200
    assert cross.status_code == 403


def test_shipped_probes_reach_the_server_by_address(tmp_path):
    """The Kubernetes probes and the compose health check call /healthz and /readyz by address."""
    root = Path(__file__).resolve().parents[3] / "deploy"
    deployment = yaml.safe_load((root / "kubernetes" / "deployment.yaml").read_text())
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    probe_paths = {
        container[probe]["httpGet"]["path"]
        for probe in ("livenessProbe", "readinessProbe", "startupProbe")
        if probe in container and "httpGet" in container[probe]
    }
    compose = (root / "docker-compose.yml").read_text()
    assert probe_paths and probe_paths <= {"/healthz", "/readyz"}
    assert "127.0.0.1:5000/readyz" in compose  # loopback: answered without a token too
