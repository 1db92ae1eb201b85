"""The console's promote button: never offered for production, and a worse version needs a confirm."""

from __future__ import annotations

import html

import httpx

from tabserve.registry import StoredFile, open_registry
from tabserve.registry.records import DESCRIBING_FIELDS
from tabserve.service.app import create_app
from tests.support.servers import asgi_exchange, copy_registry
from tests.support.settings import make_settings


def _with_worse_version(tmp_path, trained_iris):
    settings = make_settings(tmp_path, registry=copy_registry(trained_iris[0], tmp_path / "registry"))
    registry = open_registry(settings)
    try:
        record = registry.get("iris", 1)
        fields = {name: getattr(record, name) for name in DESCRIBING_FIELDS}
        fields["metrics"] = {**record.metrics, "holdout_score": record.metrics["holdout_score"] - 0.25}
        registry.register("iris", [StoredFile("model", "model.skops", registry.read_file(record))], fields)
    finally:
        registry.close()
    return create_app(settings)


def test_a_worse_version_asks_before_promotion_and_production_has_no_button(tmp_path, trained_iris):
    app = _with_worse_version(tmp_path, trained_iris)

    async def calls(client: httpx.AsyncClient):
        return (await client.get("/ui/models/iris/versions/2")).text, (
            await client.get("/ui/models/iris/versions/1")
        ).text

    worse, production = asgi_exchange(app, "http://127.0.0.1:5000", calls)
    worse = html.unescape(worse)
    assert 'data-action="promote"' in worse
    assert "data-confirm=\"Version 2's hold-out score" in worse and "below production's (version 1" in worse
    assert 'data-action="promote"' not in production
    assert "data-promoted" in production
