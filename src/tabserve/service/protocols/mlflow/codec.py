"""MLflow's scoring protocol (``POST /invocations``), for the server's default model.

JSON bodies carry exactly one of ``dataframe_split`` (``{"columns", "data"}``),
``dataframe_records`` (a list of objects), ``instances`` (rows) or ``inputs``
(rows, or an object of one list per column); ``text/csv`` bodies have a header
row. The answer is ``{"predictions": [label, ...]}``; with
``"params": {"probabilities": true}`` each prediction is instead an object of
class -> probability (how MLflow writes a data frame answer, one record per row).
Errors are ``{"error_code": ..., "message": ...}``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson

from tabserve.inputs import Batch
from tabserve.predictor import Predictor
from tabserve.service.predict.core import PredictCore, PredictResult
from tabserve.service.protocols import ProtocolError

KEYS = ("dataframe_split", "dataframe_records", "instances", "inputs")
PROBABILITIES_PARAM = "probabilities"
ERROR_CODES = {400: "BAD_REQUEST", 404: "RESOURCE_DOES_NOT_EXIST", 413: "BAD_REQUEST", 415: "BAD_REQUEST"}


def wants_probabilities(payload: dict[str, Any]) -> bool:
    params = payload.get("params")
    if params is None:
        return False
    if type(params) is not dict:
        raise ProtocolError("'params' must be an object")
    flag = params.get(PROBABILITIES_PARAM, False)
    if type(flag) is not bool:
        raise ProtocolError(f"params.{PROBABILITIES_PARAM} must be true or false")
    return flag


def decode_json(core: PredictCore, predictor: Predictor, payload: Any) -> tuple[Batch, bool]:
    """A validated batch and whether probabilities were asked for, from a JSON body."""
    if type(payload) is not dict:
        raise ProtocolError(f"the body must be a JSON object with one of {', '.join(KEYS)}")
    given = [key for key in KEYS if key in payload]
    unknown = [key for key in payload if key not in (*KEYS, "params")]
    if len(given) != 1 or unknown:
        raise ProtocolError(f"the body must have exactly one of {', '.join(KEYS)} (and optionally params)")
    key = given[0]
    value = payload[key]
    probabilities = wants_probabilities(payload)
    if key == "dataframe_split":
        if type(value) is not dict or "columns" not in value or "data" not in value:
            raise ProtocolError("dataframe_split must be an object with 'columns' and 'data'")
        batch = core.rows(predictor, {"columns": value["columns"], "data": value["data"]})
    elif key == "inputs" and type(value) is dict:
        if not all(type(v) is list for v in value.values()):
            raise ProtocolError("inputs as an object must map each column to a list of values")
        batch = core.columns(predictor, value)
    else:
        if type(value) is not list:
            raise ProtocolError(f"{key} must be a list of rows")
        batch = core.rows(predictor, {"instances": value})
    return batch, probabilities


def encode_response(result: PredictResult, probabilities: bool) -> bytes:
    """``{"predictions": [...]}``: labels (or per-row probability records), or a regressor's numbers."""
    if result.values is not None:
        return orjson.dumps({"predictions": result.values}, option=orjson.OPT_SERIALIZE_NUMPY)
    if not probabilities or result.probabilities is None:
        return orjson.dumps({"predictions": result.labels})
    matrix = np.asarray(result.probabilities, dtype=np.float64).tolist()
    records = [dict(zip(result.classes, row, strict=True)) for row in matrix]
    return orjson.dumps({"predictions": records})


def error_body(status: int, message: str) -> bytes:
    code = ERROR_CODES.get(status, "INTERNAL_ERROR" if status >= 500 else "BAD_REQUEST")
    if status == 503:
        code = "TEMPORARILY_UNAVAILABLE"
    return orjson.dumps({"error_code": code, "message": message})
