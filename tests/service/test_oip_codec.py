"""The OIP v2 codec's binary label encoding, against the protocol's definition element by element."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from tabserve.service.protocols.oip import encode_labels


def _by_definition(classes: list[str], indices: list[int]) -> bytes:
    """Each element: its UTF-8 byte count as a little-endian uint32, then the bytes."""
    out = b""
    for i in indices:
        text = classes[i].encode("utf-8")
        out += struct.pack("<I", len(text)) + text
    return out


@pytest.mark.parametrize(
    "classes",
    [["setosa", "versicolor", "virginica"], ["same", "size"], ["only"], ["é", "", "ラベル ✓"]],
    ids=["iris", "equal-widths", "one-class", "utf8-and-empty"],
)
@pytest.mark.parametrize("rows", [0, 1, 7, 5000])
def test_binary_labels_follow_the_bytes_element_layout_in_row_order(classes, rows):
    indices = np.random.default_rng(rows).integers(0, len(classes), rows)
    assert encode_labels(classes, indices) == _by_definition(classes, indices.tolist())
