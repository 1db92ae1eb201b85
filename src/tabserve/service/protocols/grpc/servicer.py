"""The six RPCs of ``inference.GRPCInferenceService``, answered through the predict core.

Each RPC mirrors its REST route in ``protocols.oip.routes``: the same lookups,
the same checks and the same messages, with errors sent as gRPC status codes
(``status.status_for``). None of these RPCs changes anything, so none needs
``server.token``, as their HTTP twins need none.
"""

from __future__ import annotations

import asyncio

import grpc

from tabserve import __version__
from tabserve.errors import NoModelError
from tabserve.predictor import Predictor
from tabserve.service.predict.core import PredictCore, ignored_headers
from tabserve.service.protocols.grpc import codec
from tabserve.service.protocols.grpc import inference_pb2 as pb
from tabserve.service.protocols.grpc.inference_pb2_grpc import GRPCInferenceServiceServicer
from tabserve.service.protocols.grpc.status import status_for

PROTOCOL = "oip_grpc"  # the predictions metric's protocol label


class InferenceServicer(GRPCInferenceServiceServicer):
    """Health, metadata and inference for every model the server serves."""

    def __init__(self, core: PredictCore) -> None:
        self.core = core
        self.state = core.state

    async def _predictor(self, name: str, version: str) -> Predictor:
        number = codec.parse_version(version)
        if number is None:
            return self.core.production(name)
        return await self.core.version(name, number)

    async def ServerLive(
        self, request: pb.ServerLiveRequest, context: grpc.aio.ServicerContext
    ) -> pb.ServerLiveResponse:
        """Live while the process answers."""
        return pb.ServerLiveResponse(live=True)

    async def ServerReady(
        self, request: pb.ServerReadyRequest, context: grpc.aio.ServicerContext
    ) -> pb.ServerReadyResponse:
        """Ready once every served model has a version loaded and no background task has died."""
        state = self.state
        ready = not state.task_failures and all(slot.predictor is not None for slot in state.slots.values())
        return pb.ServerReadyResponse(ready=ready)

    async def ModelReady(
        self, request: pb.ModelReadyRequest, context: grpc.aio.ServicerContext
    ) -> pb.ModelReadyResponse:
        """Ready when the version can answer; not ready while a served model has none loaded."""
        try:
            await self._predictor(request.name, request.version)
        except NoModelError:
            return pb.ModelReadyResponse(ready=False)
        except Exception as exc:
            code, message = status_for(exc)
            await context.abort(code, message)
        return pb.ModelReadyResponse(ready=True)

    async def ServerMetadata(
        self, request: pb.ServerMetadataRequest, context: grpc.aio.ServicerContext
    ) -> pb.ServerMetadataResponse:
        """Server name and version."""
        return pb.ServerMetadataResponse(name="tabserve", version=__version__)

    async def ModelMetadata(
        self, request: pb.ModelMetadataRequest, context: grpc.aio.ServicerContext
    ) -> pb.ModelMetadataResponse:
        """Inputs, outputs and versions from the feature schema (every version, or the one asked)."""
        try:
            predictor = await self._predictor(request.name, request.version)
            if request.version:
                versions = [predictor.version]
            else:
                records = await asyncio.to_thread(self.state.registry.versions, request.name)
                versions = [record.version for record in records]
        except Exception as exc:
            code, message = status_for(exc)
            await context.abort(code, message)
        return codec.metadata_response(predictor, versions)

    async def ModelInfer(
        self, request: pb.ModelInferRequest, context: grpc.aio.ServicerContext
    ) -> pb.ModelInferResponse:
        """Predict: tensors in (raw or typed), ``predict`` / ``predict_proba`` out as raw contents (a
        regressor: ``predict`` values, and ``predict_interval`` when ``parameters`` hold ``interval``)."""
        core = self.core
        try:
            predictor = await self._predictor(request.model_name, request.model_version)
            decoded = codec.decode_request(core, predictor, request)
            labels_only = "predict_proba" not in decoded.outputs
            # As over HTTP: a classifier asked for an interval refuses it; a regressor computes one if sent.
            wanted = "predict_interval" in decoded.outputs or not predictor.is_regression
            result = core.predict(
                predictor,
                decoded.batch,
                protocol=PROTOCOL,
                labels_only=labels_only,
                interval=decoded.interval if wanted else None,
            )
        except Exception as exc:
            code, message = status_for(exc)
            await context.abort(code, message)
        if result.ignored:  # named inputs the model does not take: named as over HTTP
            headers = ignored_headers(result.ignored)
            context.set_trailing_metadata(tuple((k.decode(), v.decode()) for k, v in headers))
        return codec.encode_response(result, decoded)
