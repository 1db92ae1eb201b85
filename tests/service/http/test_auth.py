"""Bearer tokens on train, promote and rollback; the public-bind rule; secrets kept out of logs."""

from __future__ import annotations

import logging

import pytest

from tabserve.config import ServerSettings
from tabserve.errors import ConfigError
from tabserve.service.http.auth import check_bind, is_loopback, token_matches
from tests.support.servers import register_copy, write_config

TOKEN = "tok-5b1d0c8e-do-not-log"


@pytest.fixture
def token_server(tmp_path, iris_config, start_app):
    config = write_config(
        tmp_path,
        {
            "url": f"sqlite:///{tmp_path / 'registry' / 'registry.db'}",
            "artifacts": str(tmp_path / "registry" / "artifacts"),
        },
        server={"token": TOKEN},
    )
    server = start_app(config)
    server.wait()
    return server


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/train"),
        ("POST", "/models/iris/train"),
        ("POST", "/models/iris/versions/1/promote"),
        ("POST", "/models/iris/rollback"),
    ],
)
@pytest.mark.parametrize("header", [None, "Bearer wrong-token", f"Basic {TOKEN}", "Bearer"])
def test_mutating_routes_need_the_token(token_server, method, path, header):
    headers = {"authorization": header} if header else {}
    response = token_server.client.request(method, path, headers=headers, json={})
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert TOKEN not in response.text


def test_job_details_need_the_token_when_one_is_set(token_server):
    assert token_server.client.get("/jobs").status_code == 401
    assert token_server.client.get("/jobs", headers={"authorization": f"Bearer {TOKEN}"}).status_code == 200
    missing = token_server.client.get("/jobs/" + "a" * 32)
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"].startswith("Bearer")
    found = token_server.client.get("/jobs/" + "a" * 32, headers={"authorization": f"Bearer {TOKEN}"})
    assert found.status_code == 404  # past the check: there is no such job


def test_the_right_token_is_accepted_and_reads_need_none(token_server, caplog):
    caplog.set_level(logging.DEBUG)
    auth = {"authorization": f"Bearer {TOKEN}"}
    second = register_copy(token_server.config)
    promoted = token_server.client.post(f"/models/iris/versions/{second}/promote", headers=auth)
    assert promoted.status_code == 200
    assert promoted.json() == {"model": "iris", "alias": "production", "version": second}
    rolled_back = token_server.client.post("/models/iris/rollback", headers=auth)
    assert rolled_back.status_code == 200 and rolled_back.json()["version"] == 1
    assert token_server.client.get("/models/iris").status_code == 200
    assert token_server.client.post("/predict", json=[5.1, 3.8, 1.5, 0.3]).status_code == 200
    assert caplog.records and TOKEN not in caplog.text


def test_public_bind_without_token_is_refused_with_the_reason(iris_config, capsys):
    from tabserve.cli import main

    assert main(["-c", str(iris_config), "serve", "--host", "0.0.0.0", "--port", "9"]) == 2
    error = capsys.readouterr().err
    assert "server.token" in error and "allow_unauthenticated" in error


def test_check_bind_rules():
    check_bind(ServerSettings(host="127.0.0.1"))
    check_bind(ServerSettings(host="::1"))
    check_bind(ServerSettings(host="0.0.0.0", token="t"))
    check_bind(ServerSettings(host="0.0.0.0", allow_unauthenticated=True))
    with pytest.raises(ConfigError, match=r"refusing to listen on 10\.1\.2\.3"):
        check_bind(ServerSettings(host="10.1.2.3"))
    assert is_loopback("localhost") and is_loopback("127.0.0.2") and not is_loopback("example.com")


def test_token_comparison():
    assert token_matches("abc", "abc")
    assert not token_matches("abc", "abd")
    assert not token_matches("abc", None)
    assert not token_matches("abc", "ab")
