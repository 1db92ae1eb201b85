"""Container liveness probe: GET /healthz on the port and address the server is configured with.

The image's HEALTHCHECK runs ``python -m tabserve.healthcheck``. It reads the settings the way
``tabserve serve`` does (TABSERVE_CONFIG, then TABSERVE_* variables), so a container started with
``TABSERVE_SERVER__PORT=8080`` is probed on 8080 rather than on a hard-coded 5000.
It imports only the config module and the standard library, so it stays cheap every interval.
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.request
from collections.abc import Mapping

from tabserve.config import ServerSettings, load_settings
from tabserve.errors import ConfigError

LIVENESS_PATH = "/healthz"
# A wildcard bind is reachable on loopback; probing loopback keeps the check inside the container.
_WILDCARDS = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}


def probe_url(server: ServerSettings) -> str:
    """The URL that answers when the server bound to ``server.host:server.port`` is alive."""
    if server.port == 0:
        raise ConfigError("server.port is 0 (a random port): a health check cannot know where to probe")
    host = _WILDCARDS.get(server.host, server.host)
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{server.port}{LIVENESS_PATH}"


def check(environ: Mapping[str, str] | None = None, timeout: float = 4.0) -> tuple[bool, str]:
    """(alive, reason): whether the configured server answers 200 on its liveness route."""
    try:
        url = probe_url(load_settings(environ=environ).server)
    except ConfigError as exc:
        return False, f"config: {exc}"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    except (OSError, ValueError) as exc:
        return False, f"{url}: {type(exc).__name__}"
    return status == 200, f"{url}: HTTP {status}"


def main() -> int:
    """Exit 0 when alive, 1 otherwise (the HEALTHCHECK contract), saying why on stderr."""
    alive, reason = check()
    if not alive:
        sys.stderr.write(f"unhealthy: {reason}\n")
    return 0 if alive else 1


if __name__ == "__main__":
    sys.exit(main())
