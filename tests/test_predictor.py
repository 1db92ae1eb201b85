import numpy as np
import pytest

from tabserve.data import load_iris_frame
from tabserve.inputs import parse_payload
from tabserve.predictor import Predictor
from tabserve.registry import open_registry


def test_predictor_matches_the_trained_pipeline(trained_iris):
    settings, outcome = trained_iris
    with open_registry(settings) as registry:
        predictor = Predictor.load(registry, "iris")
    frame = load_iris_frame()
    features = frame.drop(columns="species")
    batch = parse_payload(features.to_numpy().tolist(), predictor.schema, 1000)
    result = predictor.predict(batch)
    expected = outcome.trained.pipeline.predict(features)
    assert result.labels == list(expected)
    np.testing.assert_allclose(result.probabilities, outcome.trained.pipeline.predict_proba(features))
    assert predictor.version == outcome.version
    assert predictor.predict(batch, labels_only=True).probabilities is None


def test_seed_example_is_setosa(trained_iris):
    settings, _ = trained_iris
    with open_registry(settings) as registry:
        predictor = Predictor.load(registry, "iris")
    result = predictor.predict(parse_payload([5.1, 3.8, 1.5, 0.3], predictor.schema, 1))
    assert result.labels == ["setosa"]
    assert result.probabilities[0].sum() == pytest.approx(1.0)
