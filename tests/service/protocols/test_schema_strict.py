"""Bodies the server refuses are bodies its schema refuses: no schema-valid request meets a 400."""

from __future__ import annotations

import jsonschema
import pytest

from tabserve.service.app import create_app
from tests.support.settings import make_settings


def _request_schema(tmp_path, path: str) -> dict:
    spec = create_app(make_settings(tmp_path)).openapi()
    body = spec["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]
    return {**body, "components": spec.get("components", {})}


@pytest.mark.parametrize(
    ("path", "refused", "accepted"),
    [
        ("/v2/models/{name}/infer", {"inputs": []}, {"inputs": [{"name": "x"}]}),
        ("/v1/models/{name}:predict", {"instances": [None]}, {"instances": [[5.1, 3.5, 1.4, 0.2]]}),
        ("/v1/models/{name}:predict", {"instances": [1.0]}, {"instances": [{"sepal_length": 5.1}]}),
    ],
    ids=["oip-no-inputs", "v1-null-row", "v1-scalar-row"],
)
def test_the_schema_refuses_what_the_server_refuses(tmp_path, path, refused, accepted):
    schema = _request_schema(tmp_path, path)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(refused, schema)
    jsonschema.validate(accepted, schema)
