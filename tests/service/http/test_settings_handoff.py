"""Worker processes rebuild the parent's settings exactly, including the config file's folder."""

from __future__ import annotations

from pathlib import Path

from tabserve.config import load_settings
from tabserve.service.http.server import _read_settings_file, _settings_file


def test_workers_get_the_same_settings_and_config_folder(tmp_path: Path):
    (tmp_path / "tabserve.yaml").write_text("data: {source: csv, path: rows.csv}\nserver: {token: s3cret}\n")
    settings = load_settings(tmp_path / "tabserve.yaml", environ={})

    with _settings_file(settings) as path:
        assert path.stat().st_mode & 0o077 == 0
        rebuilt = _read_settings_file(path)

    assert rebuilt.model_dump() == settings.model_dump()
    assert rebuilt.base_dir == str(tmp_path)
    assert rebuilt.data.path == str(tmp_path / "rows.csv")
    assert not path.exists()
