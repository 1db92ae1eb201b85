"""The same tabserve server without the console: the yardstick for "the console costs /predict nothing".

Run as ``python console_off_app.py PORT`` with TABSERVE_CONFIG set. It starts the server
exactly as `tabserve serve` does (``run_server``: the guarded HTTP protocol, uvloop, the
allocator tuning, the logging), with ``console.mount`` made a no-op first, so the two
differ in the console only.
"""

from __future__ import annotations

import sys


def main(port: int) -> None:
    from tabserve.config import load_settings
    from tabserve.service import console
    from tabserve.service.http.server import run_server

    console.mount = lambda app: None  # the only hook the console has in create_app
    run_server(load_settings(overrides={"server": {"port": port}}))


if __name__ == "__main__":
    main(int(sys.argv[1]))
