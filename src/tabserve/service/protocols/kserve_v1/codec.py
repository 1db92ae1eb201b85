"""KServe V1 / TF-Serving: ``{"instances": [...]}`` in, ``{"predictions": [...]}`` (labels) out.

Instances are rows as lists in feature order or objects keyed by column name,
exactly as tabserve's own ``instances``; errors are ``{"error": ...}``.
"""

from __future__ import annotations

from typing import Any

import orjson

from tabserve.inputs import Batch
from tabserve.predictor import Predictor
from tabserve.service.predict.core import PredictCore, PredictResult
from tabserve.service.protocols import ProtocolError


def decode_request(core: PredictCore, predictor: Predictor, payload: Any) -> Batch:
    """A validated batch from a V1 body; only ``instances`` is read."""
    if type(payload) is not dict or "instances" not in payload:
        raise ProtocolError('the body must be a JSON object {"instances": [row, ...]}')
    instances = payload["instances"]
    if type(instances) is not list:
        raise ProtocolError("'instances' must be a list of rows")
    return core.rows(predictor, {"instances": instances})


def encode_response(result: PredictResult) -> bytes:
    """``{"predictions": [...]}``: labels, or a regressor's numbers."""
    if result.values is not None:
        return orjson.dumps({"predictions": result.values}, option=orjson.OPT_SERIALIZE_NUMPY)
    return orjson.dumps({"predictions": result.labels})


def model_status(name: str, ready: bool) -> bytes:
    return orjson.dumps({"name": name, "ready": ready})


def error_body(message: str) -> bytes:
    return orjson.dumps({"error": message})
