"""OIP v2 input tensors must say what they hold: nested data matches the shape, BOOL bytes are 0 or 1."""

from __future__ import annotations

import numpy as np
import pytest

from tabserve.service.protocols import ProtocolError
from tabserve.service.protocols.oip.tensors import decode_inputs


def _decode(spec: dict, tail: bytes = b"") -> np.ndarray:
    (tensor,) = decode_inputs({"inputs": [{"name": "x", **spec}]}, memoryview(tail))
    return tensor.values


@pytest.mark.parametrize(
    "data",
    [
        [[1, 2, 3], [4, 5, 6, 7, 8]],  # the right count, rows of the wrong length
        [[1, 2, 3, 4, 5, 6, 7, 8]],  # one row of eight for two rows of four
        [[[1, 2], [3, 4]], [[5, 6], [7, 8]]],  # deeper than the shape
        [[1, 2, 3, 4], 5, 6, 7, 8],  # a row, then loose values
    ],
    ids=["ragged", "one-long-row", "too-deep", "mixed"],
)
def test_nested_data_that_contradicts_the_shape_is_refused_naming_the_tensor(data):
    with pytest.raises(ProtocolError, match=r"input 'x': .*shape \[2, 4\]"):
        _decode({"datatype": "FP64", "shape": [2, 4], "data": data})


def test_nested_and_flat_data_matching_the_shape_are_read_row_major():
    nested = _decode({"datatype": "FP64", "shape": [2, 4], "data": [[1, 2, 3, 4], [5, 6, 7, 8]]})
    flat = _decode({"datatype": "FP64", "shape": [2, 4], "data": [1, 2, 3, 4, 5, 6, 7, 8]})
    assert nested.tolist() == flat.tolist() == [1, 2, 3, 4, 5, 6, 7, 8]
    cube = _decode({"datatype": "INT64", "shape": [2, 1, 2], "data": [[[1, 2]], [[3, 4]]]})
    assert cube.tolist() == [1, 2, 3, 4]


@pytest.mark.parametrize("byte", [b"\x02", b"\xff"])
def test_binary_bool_bytes_other_than_0_and_1_are_refused(byte):
    spec = {"datatype": "BOOL", "shape": [1, 2], "parameters": {"binary_data_size": 2}}
    with pytest.raises(ProtocolError, match="input 'x': BOOL bytes must be 0 or 1"):
        _decode(spec, b"\x01" + byte)


def test_binary_bool_bytes_0_and_1_are_read():
    spec = {"datatype": "BOOL", "shape": [1, 2], "parameters": {"binary_data_size": 2}}
    assert _decode(spec, b"\x01\x00").tolist() == [True, False]
