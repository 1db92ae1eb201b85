"""The Open Inference Protocol v2 over gRPC: ``inference.GRPCInferenceService`` beside the HTTP server.

``inference.proto`` is the protocol (generated stubs: ``inference_pb2``, ``inference_pb2_grpc``,
made by ``scripts/gen_grpc.sh``); ``codec`` turns its messages into the REST codec's tensors and
a prediction back into a message; ``status`` maps domain errors to gRPC status codes;
``servicer`` answers the six RPCs through the predict core; ``server`` starts and stops the
``grpc.aio`` server on the HTTP server's event loop. Needs the ``grpc`` extra.
"""
