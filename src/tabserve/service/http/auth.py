"""Bearer-token checks for the mutating routes (the dependency is ``deps.Authorized``), and the rule
about public binds."""

from __future__ import annotations

import hmac
import ipaddress

from fastapi.security import HTTPBearer

from tabserve.config import ServerSettings
from tabserve.errors import ConfigError

bearer = HTTPBearer(auto_error=False, description="server.token, when one is configured")


def token_matches(expected: str, given: str | None) -> bool:
    """Constant-time comparison, so the time taken says nothing about the token."""
    if given is None:
        return False
    return hmac.compare_digest(expected.encode(), given.encode())


def is_loopback(host: str) -> bool:
    if host in ("localhost", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(server: ServerSettings) -> None:
    """Refuse to expose train/promote to a network without a token, unless told it is intended."""
    if is_loopback(server.host) or server.token or server.allow_unauthenticated:
        return
    raise ConfigError(
        f"server.host: refusing to listen on {server.host} without server.token: anyone who can reach it "
        "could train, promote and roll back models. Set server.token (or TABSERVE_SERVER__TOKEN), or set "
        "server.allow_unauthenticated: true if the network is trusted."
    )
