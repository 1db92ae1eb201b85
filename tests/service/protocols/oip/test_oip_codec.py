"""The OIP v2 codec's binary label encoding, and how the raw ASGI paths read model and version."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from tabserve.service.protocols.adapter import model_and_version
from tabserve.service.protocols.oip.codec import encode_labels


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


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/v2/models/iris/infer", ("iris", None)),
        ("/v2/models/iris/versions/2/infer", ("iris", 2)),
        ("/v2/models/iris/versions/2147483647/infer", ("iris", 2147483647)),
        ("/v2/models/iris/versions/2147483648/infer", None),
        ("/v2/models/iris/versions/0/infer", None),
        ("/v2/models/iris/versions/\uff12/infer", None),  # a full-width digit is not a version
        ("/v2/models/iris/versions//infer", None),
        ("/v2/models//infer", None),
        ("/v2/models/infer", None),
        ("/v2/models/a/b/infer", None),
        ("/v2/models/iris/ready", None),
    ],
)
def test_raw_paths_name_a_model_and_at_most_a_whole_version(path, expected):
    assert model_and_version(path, "/v2/models/", "/infer") == expected
