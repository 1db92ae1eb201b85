"""A multi-model server trains each model on its own config, or refuses to train it (in-process)."""

from __future__ import annotations

import httpx

from tabserve.service.app import create_app
from tests.support.servers import asgi_exchange, copy_registry
from tests.support.settings import make_settings


def _app(tmp_path, trained_iris, **server: object):
    settings, _ = trained_iris
    registry = copy_registry(settings, tmp_path / "registry")
    return create_app(
        make_settings(tmp_path, registry=registry, server={"models": ["iris", "wine"], **server})
    )


def test_a_model_without_a_training_config_is_not_trained_on_the_default_models_data(tmp_path, trained_iris):
    app = _app(tmp_path, trained_iris)

    async def calls(client: httpx.AsyncClient):
        return (
            await client.post("/models/wine/train", json={}),
            await client.get("/jobs"),
            await client.get("/ui/train?model=wine"),
            await client.get("/ui/data?model=wine"),
        )

    train, jobs, train_page, data_page = asgi_exchange(app, "http://127.0.0.1:5000", calls)
    assert train.status_code == 422, train.text
    assert "model 'wine' has no training config" in train.json()["detail"]
    assert "server.model_configs" in train.json()["detail"]
    assert jobs.json()["jobs"] == []  # no job was queued
    assert train_page.status_code == 200
    assert "data-untrainable" in train_page.text and "wine" in train_page.text
    assert '<option value="wine"' not in train_page.text  # only trainable models are offered
    assert data_page.status_code == 200
    assert "Model wine has no training config on this server" in data_page.text
    assert "sepal_length" not in data_page.text  # not iris's table under wine's name
