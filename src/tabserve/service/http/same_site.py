"""Only the names this server is for, and no writes from other sites' pages.

A browser lets any web page send a POST to ``localhost`` (a form, or a
``fetch`` with a "simple" content type) and, through DNS rebinding, even read
the answer under a name the attacker controls. Three rules close both doors:

- the ``Host`` of every request is one of the server's names
  (``server.allowed_hosts``; by default, without a token, only loopback
  names), except on ``/healthz`` and ``/readyz``, which probes call by address;
- a mutating request that carries an ``Origin`` comes from this server's own
  pages (same scheme-less host and port as its ``Host``);
- a mutating request's body, if it has one, is JSON (or CSV or JSON lines, which
  no page can send cross-site without a CORS preflight, never granted here): a
  form or ``text/plain`` body is what a cross-site page can send without one.

The host rule wraps the whole ASGI app (the raw predict paths included); the
other two run where the bearer token is checked, on every mutating route.
"""

from __future__ import annotations

from typing import Any

from tabserve.config import ServerSettings
from tabserve.service.http.bodies import media_type
from tabserve.service.http.errors import (
    PROBLEM_JSON,
    CrossOriginError,
    UnsupportedMediaTypeError,
    problem_body,
)

LOOPBACK_NAMES = frozenset({"localhost", "ip6-localhost", "127.0.0.1", "::1"})
PROBE_PATHS = frozenset({"/healthz", "/readyz"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
VERDICTS_KEPT = 64  # Host values remembered; past that (a client inventing names) each is worked out


def host_name(raw: str) -> str:
    """The name part of a Host header (no port, no brackets), lower case."""
    raw = raw.strip().lower()
    if raw.startswith("["):
        return raw[1 : raw.find("]")] if "]" in raw else raw[1:]
    if raw.count(":") == 1:
        return raw.partition(":")[0]
    return raw


def allowed_hosts(server: ServerSettings) -> frozenset[str] | None:
    """The host names answered; None means any (a token guards what matters)."""
    if server.allowed_hosts is not None:
        names = {host_name(name) for name in server.allowed_hosts}
        return None if "*" in names else frozenset(names)
    if server.token:
        return None
    names = set(LOOPBACK_NAMES)
    if server.host not in ("0.0.0.0", "::", ""):
        names.add(host_name(server.host))
    return frozenset(names)


def _host_allowed(name: str, allowed: frozenset[str]) -> bool:
    if name in allowed:
        return True
    return any(entry.startswith("*.") and name.endswith(entry[1:]) for entry in allowed)


class HostCheck:
    """ASGI wrapper: 400 for a Host this server is not configured to answer for."""

    def __init__(self, app: Any, server: ServerSettings) -> None:
        self.app = app
        self.allowed = allowed_hosts(server)
        self.verdicts: dict[bytes, bool] = {}  # raw Host value -> allowed; clients send a handful

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        allowed = self.allowed
        if allowed is None or scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        host = b""
        for key, value in scope["headers"]:
            if key == b"host":
                host = value
                break
        verdict = self.verdicts.get(host)
        if verdict is None:
            verdict = _host_allowed(host_name(host.decode("latin-1")), allowed)
            if len(self.verdicts) < VERDICTS_KEPT:
                self.verdicts[host] = verdict
        if verdict or scope["path"] in PROBE_PATHS:
            await self.app(scope, receive, send)
            return
        body = problem_body(
            400,
            "Host not allowed",
            "this server does not answer for the Host name in the request; "
            "add it to server.allowed_hosts (or set server.token)",
            "host-not-allowed",
        )
        await send(
            {
                "type": "http.response.start",
                "status": 400,
                "headers": [(b"content-type", PROBLEM_JSON), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})


# Not CORS-safelisted: a page can send these only after a preflight, which this server never grants.
PREFLIGHTED = frozenset({"text/csv", "application/csv", "application/x-ndjson", "application/jsonl"})


def check_same_site(method: str, headers: Any) -> None:
    """Refuse a mutating request from another origin, or with a body a page can send cross-site."""
    if method in SAFE_METHODS:
        return
    origin = headers.get("origin")
    if origin is not None and not _same_origin(origin, headers.get("host", "")):
        raise CrossOriginError(
            "a mutating request from another site's page is refused (its Origin is not this server)"
        )
    media = media_type(headers.get("content-type"))
    if media and media != "application/json" and not media.endswith("+json") and media not in PREFLIGHTED:
        raise UnsupportedMediaTypeError(
            f"a mutating request's body must be application/json, not '{media[:60]}'"
        )


def _same_origin(origin: str, host: str) -> bool:
    """True when ``Origin`` (scheme://host[:port]) names the host and port the request was sent to."""
    scheme, sep, rest = origin.strip().lower().partition("://")
    if not sep or scheme not in ("http", "https") or not host:
        return False
    origin_host = rest.rstrip("/")
    default = ":443" if scheme == "https" else ":80"
    host = host.strip().lower()
    return origin_host == host or origin_host + default == host or origin_host == host.removesuffix(default)
