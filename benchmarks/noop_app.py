"""The yardstick: a raw ASGI app that reads the body and answers a fixed JSON.

Served on the same stack as tabserve (uvicorn, uvloop, httptools, no access
log), it is the most any Python service could do on this machine. With
``guarded`` after the port it is served through tabserve's HTTP guard with
the default limits (benchmarks/guard.py compares the two).
"""

from __future__ import annotations

import sys

BODY = b'{"labels":["setosa"]}'
HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())]


async def app(scope: dict, receive, send) -> None:
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})


if __name__ == "__main__":
    import uvicorn

    protocol = "httptools"
    if sys.argv[2:] == ["guarded"]:
        from tabserve.config import ServerSettings
        from tabserve.service.http import guard as http_guard

        http_guard.configure(ServerSettings())
        protocol = http_guard.GuardedHttpToolsProtocol
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=int(sys.argv[1]),
        loop="uvloop",
        http=protocol,
        access_log=False,
        server_header=False,
        log_level="warning",
    )
