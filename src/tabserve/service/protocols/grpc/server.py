"""The gRPC server's life: started on the HTTP server's event loop, stopped with it.

The app's lifespan calls ``start`` once the registry is open and ``stop`` when
uvicorn shuts down (after SIGTERM, once HTTP requests in flight are done), so one
process serves both protocols from one predict core. It binds ``server.host`` only;
with several workers each binds the port with SO_REUSEPORT and the kernel spreads
connections, as uvicorn's shared socket does for HTTP. A message is refused
(RESOURCE_EXHAUSTED) past the byte limit HTTP sets for a predict body.
"""

from __future__ import annotations

import logging

import grpc

from tabserve.errors import TabserveError
from tabserve.service.predict.core import PredictCore, body_limit
from tabserve.service.protocols.grpc.inference_pb2_grpc import add_GRPCInferenceServiceServicer_to_server
from tabserve.service.protocols.grpc.servicer import InferenceServicer

log = logging.getLogger(__name__)

STOP_GRACE_S = 10.0  # RPCs in flight at shutdown get this long to finish


class GrpcBindError(TabserveError):
    """The gRPC port could not be bound (taken, or not an address of this host)."""


def address(host: str, port: int) -> str:
    """``host:port``, with an IPv6 literal in brackets."""
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"{host}:{port}"


class GrpcServer:
    """A started ``grpc.aio`` server and the port it bound (the one asked, or a free one for 0)."""

    def __init__(self, server: grpc.aio.Server, port: int) -> None:
        self.server, self.port = server, port

    async def stop(self, grace: float = STOP_GRACE_S) -> None:
        """Refuse new RPCs, let those in flight finish within ``grace``, then close."""
        await self.server.stop(grace)
        log.info("gRPC server stopped")


async def start(core: PredictCore) -> GrpcServer:
    """Serve OIP v2 over gRPC on ``server.host:server.grpc_port``; call on the serving loop."""
    settings = core.state.settings.server
    assert settings.grpc_port is not None
    limit = body_limit(core.max_rows)
    server = grpc.aio.server(
        options=[
            ("grpc.max_receive_message_length", limit),
            ("grpc.max_send_message_length", -1),  # an answer is never larger than its request allows
            ("grpc.so_reuseport", 1 if settings.workers > 1 else 0),
        ]
    )
    add_GRPCInferenceServiceServicer_to_server(InferenceServicer(core), server)
    where = address(settings.host, settings.grpc_port)
    try:
        port = server.add_insecure_port(where)
    except RuntimeError:
        port = 0
    if port == 0:
        raise GrpcBindError(f"cannot serve gRPC on {where}: the port is in use or the address is not local")
    await server.start()
    log.info("serving the Open Inference Protocol over gRPC on %s", address(settings.host, port))
    return GrpcServer(server, port)
