"""One log format for a server: uvicorn's lines come out like tabserve's (issue 12, item 17)."""

import json

import pytest

from tests.support.servers import copy_registry, write_config


@pytest.mark.slow
def test_uvicorn_and_tabserve_lines_share_the_json_format(tmp_path, trained_iris, start_server):
    config = write_config(
        tmp_path,
        copy_registry(trained_iris[0], tmp_path / "registry"),
        logging={"format": "json", "file": None},
    )
    server = start_server(config)
    server.wait("/readyz")
    assert server.terminate() == 0
    lines = server.output.read_text().splitlines()
    entries = [json.loads(line) for line in lines]  # every line on the terminal is a JSON object
    loggers = {entry["logger"].split(".")[0] for entry in entries}
    assert loggers == {"tabserve", "uvicorn"}, loggers
    assert any(
        e["logger"].startswith("uvicorn") and "Application startup complete" in e["message"] for e in entries
    )
