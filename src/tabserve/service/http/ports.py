"""A busy port found before serving: one clear line instead of uvicorn's bind traceback and exit 3."""

from __future__ import annotations

import errno
import socket

from tabserve.errors import TabserveError


class PortInUseError(TabserveError):
    """The configured host:port is taken by another process."""


def check_port_free(host: str, port: int) -> None:
    """Bind and release the address the server is about to take; a busy one is a PortInUseError.

    uvicorn binds with SO_REUSEADDR too, so a port in TIME_WAIT passes here as it does there.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise
            raise PortInUseError(
                f"cannot serve on {host}:{port}: the port is in use by another process; "
                "stop it or pick another port with --port N (make run PORT=N)"
            ) from None
