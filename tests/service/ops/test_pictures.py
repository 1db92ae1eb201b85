"""Pictures: stored with a version and read back; drawn by the server only for a version stored
without them, and only where plotting is installed; otherwise a 404 that says why."""

from __future__ import annotations

import dataclasses
import logging

import pytest

from tabserve.errors import NotFoundError
from tabserve.registration import PICTURE_FILES
from tabserve.registry import open_registry
from tabserve.service.ops import pictures
from tabserve.service.predict.state import PictureCache

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def iris_version(trained_iris):
    settings, outcome = trained_iris
    registry = open_registry(settings)
    yield settings, registry, registry.get("iris", outcome.version)
    registry.close()


def without_pictures(record):
    """The same version as one made before pictures were stored with versions."""
    kept = {kind: entry for kind, entry in record.artifacts.items() if kind not in PICTURE_FILES}
    return dataclasses.replace(record, artifacts=kept)


def test_a_trained_version_stores_its_pairplot_and_confusion_matrix(iris_version):
    _, registry, record = iris_version
    for kind in ("pairplot", "confusion_matrix"):  # a classifier's; regressors store their own two
        name = PICTURE_FILES[kind]
        assert record.artifacts[kind]["key"].endswith(name)
        assert registry.read_file(record, kind).startswith(PNG)


def test_stored_pictures_are_served_as_stored(iris_version, monkeypatch):
    settings, registry, record = iris_version
    monkeypatch.setattr(pictures, "can_draw", lambda: False)  # reading needs no plotting library
    cache = PictureCache()
    png, digest = pictures.pairplot(cache, settings, record, registry)
    assert png == registry.read_file(record, "pairplot") and digest == record.data_hash
    matrix = pictures.confusion_matrix(cache, registry, record)
    assert matrix == registry.read_file(record, "confusion_matrix")


def test_a_versions_own_pairplot_is_the_stored_one_and_never_drawn(iris_version):
    _, registry, record = iris_version
    cache = PictureCache()
    assert pictures.stored_pairplot(cache, registry, record) == registry.read_file(record, "pairplot")
    with pytest.raises(NotFoundError, match=r"version \d+ was stored without a pairplot \(trained with"):
        pictures.stored_pairplot(cache, registry, without_pictures(record))


def test_an_older_version_is_drawn_once_per_data_hash_where_plotting_is_installed(iris_version, caplog):
    settings, registry, record = iris_version
    old = without_pictures(record)
    cache = PictureCache()
    with caplog.at_level(logging.INFO, logger="tabserve.service.ops.pictures"):
        first, _ = pictures.pairplot(cache, settings, old, registry)
        again, _ = pictures.pairplot(cache, settings, old, registry)
    assert first.startswith(PNG) and again == first
    assert caplog.text.count("drew the pairplot for data") == 1
    assert pictures.confusion_matrix(cache, registry, old).startswith(PNG)


def test_an_older_version_in_a_serve_only_install_is_a_404_naming_why(iris_version, monkeypatch):
    settings, registry, record = iris_version
    monkeypatch.setattr(pictures, "can_draw", lambda: False)
    old = without_pictures(record)
    cache = PictureCache()
    with pytest.raises(NotFoundError, match=r"version \d+ was stored without its pairplot, and this install"):
        pictures.pairplot(cache, settings, old, registry)
    with pytest.raises(NotFoundError, match="without its confusion matrix picture, and this install serves"):
        pictures.confusion_matrix(cache, registry, old)
    with pytest.raises(NotFoundError, match="no model is served yet, so there is no stored pairplot"):
        pictures.pairplot(cache, settings, None, None)
