"""The console's predict form on a regression model, in Chromium: the value and its interval."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tabserve.config import load_settings
from tabserve.workflow import train_and_register
from tests.service.conftest import Server
from tests.service.test_console_browser import browser, watched  # noqa: F401 (fixtures)

pytestmark = pytest.mark.slow

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(scope="module")
def houses_server(tmp_path_factory):
    root = tmp_path_factory.mktemp("houses-browser")
    config = yaml.safe_load((EXAMPLES / "regression.yaml").read_text())
    config["data"]["path"] = str(EXAMPLES / "houses.csv")
    config["search"] = {"cv": 3, "n_jobs": 1}
    config["registry"] = {
        "url": f"sqlite:///{root / 'registry.db'}",
        "artifacts": str(root / "artifacts"),
        "pictures": False,
    }
    config["logging"] = {"file": str(root / "tabserve.log")}
    path = root / "tabserve.yaml"
    path.write_text(yaml.safe_dump(config))
    train_and_register(load_settings(path, environ={}))
    server = Server(path)
    server.wait()
    yield server
    server.terminate()


def test_predict_form_shows_the_value_and_its_interval(browser, houses_server, watched):  # noqa: F811
    view = watched(houses_server)
    view.goto("/ui/predict?model=houses&version=1")
    view.page.fill("[data-feature=area]", "120")
    view.page.fill("[data-feature=rooms]", "4")
    view.page.fill("[data-feature=age]", "15")
    view.page.select_option("[data-feature=district]", "north")
    view.page.click("[data-predict-form] button[type=submit]")
    value = view.page.locator("[data-predict-result] [data-value]")
    value.wait_for()
    expected = houses_server.client.post("/predict", json=[120, 4, 15, "north"]).json()["predictions"][0]
    assert float(value.inner_text()) == pytest.approx(expected, rel=1e-5)
    interval = view.page.locator("[data-predict-result] [data-interval]").inner_text()
    assert interval.startswith("90% interval: ")
    lower, upper = (float(v) for v in interval.removeprefix("90% interval: ").split(" to "))
    assert lower < expected < upper
    view.page.select_option("[data-interval]", "")
    view.page.click("[data-predict-form] button[type=submit]")
    view.page.locator("[data-predict-result] [data-value]").wait_for()
    assert view.page.locator("[data-predict-result] [data-interval]").count() == 0
    assert view.errors == [] and view.foreign == []
