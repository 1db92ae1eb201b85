"""The single-row answer made from per-version templates equals the one made from a dict, byte for byte."""

from __future__ import annotations

import types

import orjson
import pytest

from tabserve.service.protocols.tabserve import answers

NAMES = ["a%b", 'quo"te', "ünï", "%s%%", "tab\tx", "100%"]
FLOATS = [5e-324, 0.1, 1.0, 1e-300, 0.30000000000000004, 0.0]


def _predictor(model: str, version: int, classes: list[str]) -> types.SimpleNamespace:
    return types.SimpleNamespace(model=model, version=version, classes=classes)


@pytest.mark.parametrize("model", ["iris", "m%d", 'q"'])
@pytest.mark.parametrize("with_probabilities", [True, False])
def test_each_class_and_float_encodes_as_the_dict_answer(model: str, with_probabilities: bool):
    predictor = _predictor(model, 7, NAMES)
    for index in range(len(NAMES)):
        values = FLOATS[index:] + FLOATS[:index] if with_probabilities else None
        made = answers.json_row_answer(predictor, index, values, "0193a4b5c6d7e8f90a1b2c3d4e5")
        assert made == answers.json_row_answer_from_dict(
            predictor, index, values, "0193a4b5c6d7e8f90a1b2c3d4e5"
        )
        assert orjson.loads(made)["labels"] == [NAMES[index]]


def test_a_version_loaded_again_with_other_classes_gets_new_templates():
    first = _predictor("swap", 1, ["x", "y"])
    assert orjson.loads(answers.json_row_answer(first, 1, [0.25, 0.75], "ab"))["classes"] == ["x", "y"]
    second = _predictor("swap", 1, ["u", "v"])
    made = answers.json_row_answer(second, 0, [0.5, 0.5], "ab")
    assert made == answers.json_row_answer_from_dict(second, 0, [0.5, 0.5], "ab")
    assert orjson.loads(made)["probabilities"] == {"u": [0.5], "v": [0.5]}
