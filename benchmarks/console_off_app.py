"""The same tabserve app without the console: the yardstick for "the console costs /predict nothing".

Run as ``python console_off_app.py PORT`` with TABSERVE_CONFIG set; served like `tabserve serve`
(uvloop, httptools, no access log), with ``console.mount`` made a no-op before the app is built.
"""

from __future__ import annotations

import sys


def build():
    from tabserve.config import load_settings
    from tabserve.service import console
    from tabserve.service.app import create_app, with_fast_predict

    console.mount = lambda app: None  # the only hook the console has in create_app
    return with_fast_predict(create_app(load_settings()))


if __name__ == "__main__":
    import uvicorn

    from tabserve.service.allocator import tune_allocator

    tune_allocator()
    uvicorn.run(
        build(),
        host="127.0.0.1",
        port=int(sys.argv[1]),
        log_level="warning",
        access_log=False,
        server_header=False,
        loop="uvloop",
        http="httptools",
    )
