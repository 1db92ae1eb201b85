"""The container health probe follows the configured address and port."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tabserve.config import ServerSettings
from tabserve.errors import ConfigError
from tabserve.healthcheck import LIVENESS_PATH, check, probe_url


class _Liveness(BaseHTTPRequestHandler):
    status_for_healthz = 200

    def do_GET(self):
        self.send_response(self.status_for_healthz if self.path == LIVENESS_PATH else 404)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def server() -> Iterator[ThreadingHTTPServer]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Liveness)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def test_probe_url_maps_wildcard_binds_to_loopback():
    assert probe_url(ServerSettings(host="0.0.0.0", port=8080)) == "http://127.0.0.1:8080/healthz"
    assert probe_url(ServerSettings(host="::", port=81)) == "http://[::1]:81/healthz"
    assert probe_url(ServerSettings(host="10.1.2.3", port=5000)) == "http://10.1.2.3:5000/healthz"


def test_a_random_port_cannot_be_probed():
    with pytest.raises(ConfigError, match="random port"):
        probe_url(ServerSettings(port=0))


def test_check_follows_the_port_from_the_environment(server):
    port = server.server_address[1]
    alive, reason = check({"TABSERVE_SERVER__PORT": str(port)})
    assert alive, reason
    assert f":{port}/healthz" in reason


def test_check_fails_when_nothing_listens_on_the_configured_port():
    # A socket bound but not listening holds the port for the whole test, so no other process can
    # start listening on it between choosing the port and probing it: connecting is refused.
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        port = held.getsockname()[1]
        alive, reason = check({"TABSERVE_SERVER__PORT": str(port)})
    assert not alive and f":{port}/" in reason


def test_check_fails_when_healthz_is_not_200(server, monkeypatch):
    monkeypatch.setattr(_Liveness, "status_for_healthz", 503)
    alive, reason = check({"TABSERVE_SERVER__PORT": str(server.server_address[1])})
    assert not alive and "HTTP 503" in reason


def test_check_reports_a_bad_config_without_probing():
    alive, reason = check({"TABSERVE_SERVER__PORT": "not-a-port"})
    assert not alive and reason.startswith("config:")
