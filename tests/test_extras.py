"""A backend whose driver is not installed is refused naming the extra that brings it."""

from __future__ import annotations

import sys

import pytest

from tabserve.database import create_engine
from tabserve.errors import ConfigError
from tabserve.registry.artifacts import S3ArtifactStore


@pytest.mark.parametrize(
    ("url", "module", "extra"),
    [
        ("mysql+pymysql://root:s3cret@127.0.0.1:3306/registry", "pymysql", "mysql"),
        ("postgresql+psycopg://postgres:s3cret@127.0.0.1:5432/registry", "psycopg", "postgres"),
    ],
)
def test_a_database_without_its_driver_names_the_extra(monkeypatch, url, module, extra):
    monkeypatch.setitem(sys.modules, module, None)  # as if the extra was not installed
    with pytest.raises(ConfigError) as refused:
        create_engine(url)
    message = str(refused.value)
    assert f"tabserve[{extra}]" in message and module in message
    assert "s3cret" not in message and "127.0.0.1" not in message


def test_s3_artifacts_without_boto3_name_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "boto3", None)
    with pytest.raises(ConfigError, match=r"s3:// artifact store needs the boto3 package.*tabserve\[s3\]"):
        S3ArtifactStore("bucket", "models", "http://127.0.0.1:9000")


def test_installed_drivers_and_sqlite_are_let_through(tmp_path):
    create_engine(f"sqlite:///{tmp_path / 'r.db'}").dispose()
    create_engine("mysql+pymysql://root@127.0.0.1:3306/registry").dispose()  # no connection made
