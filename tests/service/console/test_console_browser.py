"""The console in a real browser (Chromium via Playwright) against `tabserve serve`: the flows a person
goes through, console errors, requests to other hosts, and axe-core accessibility checks.

Chromium is Debian's (/usr/bin/chromium); Playwright never downloads a browser here. Under CI a missing
browser fails the run; elsewhere these tests skip and say how to install it.
"""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tabserve.config import load_settings
from tabserve.workflow import train_and_register
from tests.support.polling import eventually
from tests.support.servers import Server, copy_registry, register_copy, write_config

pytestmark = pytest.mark.slow

CHROMIUM = os.environ.get("TABSERVE_TEST_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
TOKEN = "s3cret-token"
WAIT_MS = 120_000
PAGES = [
    "/",
    "/ui/models/iris",
    "/ui/models/iris/versions/1",
    "/ui/models/iris/compare?a=1&b=2",
    "/ui/train",
    "/ui/jobs",
    "/ui/predict",
    "/ui/data",
    "/ui/drift",
]


def _missing(reason: str) -> None:
    how = "install it with `apt-get install chromium` (and `pip install -e '.[dev]'` for playwright)"
    if os.environ.get("CI"):
        pytest.fail(f"{reason}: the browser tests need it under CI; {how}")
    pytest.skip(f"{reason}; {how}, or set TABSERVE_TEST_CHROMIUM to a Chromium binary")


@pytest.fixture(scope="module")
def browser() -> Iterator:
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        _missing(f"no Chromium at {CHROMIUM}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("the playwright package is not installed")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield launched
        launched.close()


def _server(root: Path, trained_iris) -> Server:
    """iris with v1 (production) and v2 (a copy, not production), a token, one-fold-cheap training
    whose versions store no pictures (drawing them is most of a job's work; no page here needs them)."""
    registry = {**copy_registry(trained_iris[0], root / "registry"), "pictures": False}
    config = write_config(root, registry, server={"token": TOKEN})
    register_copy(config)
    server = Server(config)
    server.wait()
    return server


@pytest.fixture(scope="module")
def shared(tmp_path_factory, trained_iris) -> Iterator[Server]:
    """A server the read-only browser tests share."""
    server = _server(tmp_path_factory.mktemp("browser-shared"), trained_iris)
    yield server
    server.terminate()


@pytest.fixture
def own(tmp_path, trained_iris) -> Iterator[Server]:
    """A server of the test's own, for flows that train, promote or roll back."""
    server = _server(tmp_path, trained_iris)
    yield server
    server.terminate()


class Watched:
    """A page with its console errors and the requests it made to any other origin recorded."""

    def __init__(self, browser, server: Server) -> None:
        self.context = browser.new_context(base_url=server.url, accept_downloads=True)
        self.page = self.context.new_page()
        self.page.set_default_timeout(WAIT_MS)
        self.errors: list[str] = []
        self.foreign: list[str] = []
        self.blocked: list[str] = []  # requests the page's CSP stopped before they left the browser
        origin = server.url
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on(
            "request",
            lambda r: None if r.url.startswith((origin, "data:", "blob:")) else self.foreign.append(r.url),
        )

        self.page.on(
            "requestfailed",
            lambda r: r.failure == "csp" and self.blocked.append(r.url),
        )

    def goto(self, path: str) -> None:
        response = self.page.goto(path)
        assert response is not None and response.ok, f"{path}: {response and response.status}"
        self.page.wait_for_load_state("networkidle")

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def watched(browser) -> Iterator:
    pages: list[Watched] = []

    def make(server: Server) -> Watched:
        page = Watched(browser, server)
        pages.append(page)
        return page

    yield make
    for page in pages:
        page.close()


def _token_dialog(page, token: str) -> None:
    dialog = page.locator("[data-token-dialog]")
    dialog.wait_for(state="visible")
    page.fill("[data-token-input]", token)
    page.click("[data-token-form] button[type=submit]")


@pytest.mark.parametrize("path", PAGES)
def test_each_page_loads_cleanly_offline_and_accessibly(browser, shared, watched, path):
    from axe_playwright_python.sync_playwright import Axe

    view = watched(shared)
    view.goto(path)
    results = Axe().run(view.page)
    bad = [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert bad == [], f"{path}: {bad}"
    assert view.errors == [], f"{path}: console errors {view.errors}"
    assert view.foreign == [], f"{path}: requests to other hosts {view.foreign}"
    assert view.page.locator("nav[aria-label=Main] a[href='/docs']").count() == 1


def test_swagger_ui_renders_its_operations_offline(browser, shared, watched):
    view = watched(shared)
    view.goto("/docs")
    view.page.locator(".opblock").first.wait_for()
    assert view.page.locator(".opblock").count() >= 15
    assert view.page.get_by_text("/models/{name}/versions/{version}/promote").count() >= 1
    assert view.errors == [] and view.foreign == []
    view.goto("/redoc")
    view.page.get_by_text("/models/{name}/rollback").first.wait_for()
    view.page.wait_for_load_state("networkidle")
    view.page.locator("img[src='/ui/static/redoc-logo.svg']").wait_for()  # the sidebar logo, served here
    assert view.errors == [] and view.foreign == [] and view.blocked == []


def test_train_from_the_form_and_watch_it_reach_100_percent(browser, own, watched):
    view = watched(own)
    view.goto("/ui/train")
    view.page.fill("#train-cv", "2")
    view.page.fill(
        "#train-candidates",
        "- estimator: sklearn.discriminant_analysis.LinearDiscriminantAnalysis\n",
    )
    view.page.click("[data-train-form] button[type=submit]")
    _token_dialog(view.page, TOKEN)
    job = view.page.locator("[data-train-job]")
    job.locator("[data-job-result] a").wait_for()
    assert job.locator("[data-job-bar]").evaluate("bar => bar.value") == 100
    assert job.locator("[data-job-status]").inner_text() == "succeeded"
    assert re.match(
        r"Made version 3, (promoted to production|not promoted)",
        job.locator("[data-job-result]").inner_text(),
    )
    view.goto("/ui/jobs")  # read with the token this tab was given for training
    view.page.locator("tbody .status.succeeded").wait_for()
    assert view.page.locator("tbody .status.succeeded").count() == 1
    assert view.errors == []


def test_a_bad_field_shows_the_server_error_beside_it(browser, own, watched):
    view = watched(own)
    view.goto("/ui/train")
    view.page.fill("#train-cv", "1")
    view.page.click("[data-train-form] button[type=submit]")
    _token_dialog(view.page, TOKEN)
    error = view.page.locator("#err-cv")
    error.wait_for()
    assert "greater than or equal to 2" in error.inner_text()
    assert view.page.locator("#train-cv").get_attribute("aria-invalid") == "true"


def test_compare_two_versions_from_the_model_page(browser, shared, watched):
    view = watched(shared)
    view.goto("/ui/models/iris")
    view.page.select_option("#cmp-a", "1")
    view.page.select_option("#cmp-b", "2")
    view.page.click("form[action='/ui/models/iris/compare'] button")
    view.page.wait_for_url(re.compile(r"compare\?a=1&b=2"))
    assert view.page.locator("h1").inner_text() == "iris: version 1 and version 2"
    assert view.page.locator("svg[role=img]").count() == 2
    assert view.errors == []


def test_sorting_the_version_table(browser, shared, watched):
    view = watched(shared)
    view.goto("/ui/models/iris")
    versions = view.page.locator("tbody tr[data-version]")
    assert [versions.nth(i).get_attribute("data-version") for i in range(2)] == ["2", "1"]
    view.page.click("th a[data-sort=version]")  # sorted on the server, over every version
    view.page.wait_for_url(re.compile(r"sort=version&order=asc"))
    assert [versions.nth(i).get_attribute("data-version") for i in range(2)] == ["1", "2"]
    assert view.page.locator("th:has(a[data-sort=version])").get_attribute("aria-sort") == "ascending"


def _production_rows(page) -> list[str]:
    return page.locator("tr[data-version]:has([data-alias=production])").evaluate_all(
        "rows => rows.map(r => r.dataset.version)"
    )


def test_promote_with_the_token_moves_the_badge_and_rollback_moves_it_back(browser, own, watched):
    view = watched(own)
    view.goto("/ui/models/iris")
    assert _production_rows(view.page) == ["1"]
    view.goto("/ui/models/iris/versions/2")
    view.page.click("button[data-action=promote]")
    _token_dialog(view.page, TOKEN)
    view.page.get_by_text("production is now version 2").wait_for()
    assert view.page.locator("button[data-action=promote]").count() == 0  # nothing left to promote
    view.goto("/ui/models/iris")
    assert _production_rows(view.page) == ["2"]
    view.page.click("button[data-action=rollback]")  # the token is kept for the tab: no dialog
    view.page.get_by_text("production is now version 1").wait_for()
    assert _production_rows(view.page) == ["1"]
    assert view.page.locator("[data-production]").inner_text() == "version 1"  # without a reload
    assert own.client.get("/models/iris").json()["versions"][0]["aliases"] == ["production"]


def test_a_gate_refusal_is_shown_and_forcing_past_it_is_recorded(browser, tmp_path, trained_iris, watched):
    from tabserve.registry import open_registry
    from tests.support.versions import copy_version

    config = write_config(
        tmp_path,
        copy_registry(trained_iris[0], tmp_path / "registry"),
        server={"token": TOKEN},
        promotion={"max_score_drop": 0.0},
    )
    with open_registry(load_settings(config, environ={})) as registry:
        copy_version(registry, holdout_score=registry.get("iris", 1).metrics["holdout_score"] - 0.2)
    server = Server(config)
    try:
        server.wait()
        view = watched(server)
        answers = iter([None, "won the A/B test"])  # the worse-score confirm, then the override's reason
        seen: list[str] = []

        def on_dialog(dialog) -> None:
            seen.append(dialog.message)
            answer = next(answers)
            dialog.accept() if answer is None else dialog.accept(answer)

        view.page.on("dialog", on_dialog)
        view.goto("/ui/models/iris/versions/2")
        view.page.click("button[data-action=promote]")
        _token_dialog(view.page, TOKEN)
        view.page.get_by_text("production is now version 2").wait_for()
        assert "gate max_score_drop: version 2's hold-out score" in seen[1]
        view.goto("/ui/models/iris")
        newest = view.page.locator("[data-history] tbody tr").first
        assert "forced" in newest.inner_text() and "won the A/B test" in newest.inner_text()
        assert [e for e in view.errors if "409" not in e] == []  # the browser logs the 409 itself
    finally:
        server.terminate()


def _canary_shown(server: Server) -> bool:
    return server.client.get("/models/iris/canary").json()["served_here"]


def test_start_a_canary_see_both_versions_then_promote_it_from_the_model_page(browser, own, watched):
    view = watched(own)
    view.goto("/ui/models/iris")
    panel = view.page.locator("[data-canary-panel]")
    assert view.page.locator("#canary-version option").all_inner_texts() == ["v2"]  # not production
    view.page.fill("#canary-weight", "150")  # the browser lets it through: the server's 422 is shown
    view.page.locator("#canary-weight").evaluate("input => input.removeAttribute('max')")
    view.page.click("form[data-canary-start] button[type=submit]")
    _token_dialog(view.page, TOKEN)
    view.page.locator("#err-canary:not(:empty)").wait_for()
    assert view.page.locator("#err-canary").inner_text().startswith("422: ")
    assert view.page.locator("#canary-weight").get_attribute("aria-invalid") == "true"

    view.page.fill("#canary-weight", "50")
    with view.page.expect_navigation():  # the page reloads to show the running canary
        view.page.click("form[data-canary-start] button[type=submit]")
    state = panel.locator("[data-canary-state]")
    assert state.inner_text() == "Version 2 answers 50% of production traffic"
    own.until(lambda: _canary_shown(own), "the server routing to the canary")
    answered = {
        own.client.post("/predict", json=[5.1, 3.5, 1.4, 0.2], headers={"X-Routing-Key": f"k{n}"}).json()[
            "version"
        ]
        for n in range(60)
    }
    assert answered == {1, 2}
    view.goto("/ui/models/iris")
    figures = panel.locator("[data-canary-figures] tbody tr")
    assert figures.evaluate_all("rows => rows.map(r => [r.dataset.role, r.cells[0].innerText])") == [
        ["candidate", "v2"],
        ["production", "v1"],
    ]
    requests = [
        int(n) for n in panel.locator("[data-canary-figures] tbody tr td:nth-child(3)").all_inner_texts()
    ]
    assert sum(requests) == 60 and min(requests) > 0

    view.page.once("dialog", lambda dialog: dialog.accept())  # "Make version 2 production ...?"
    panel.locator("button[data-canary=promote]").click()
    view.page.get_by_text("production is now version 2; the canary ended.").wait_for()
    assert state.inner_text() == "The canary of version 2 ended (promoted)"
    assert panel.locator("button[data-canary]").count() == 0
    assert _production_rows(view.page) == ["2"]
    view.goto("/ui/models/iris")
    moves = view.page.locator("[data-history] tbody tr").all_inner_texts()
    assert "canary" in moves[0] and "promoted to production" in moves[0]  # the canary alias removed
    assert "production" in moves[1] and "canary promoted by http" in moves[1]
    assert "promoted" in panel.locator("[data-canary-outcome]").inner_text()
    assert [e for e in view.errors if "422" not in e] == []  # the browser logs the 422 itself
    assert view.foreign == []


def test_stop_a_canary_from_the_model_page(browser, own, watched):
    auth = {"authorization": f"Bearer {TOKEN}"}
    started = own.client.post("/models/iris/versions/2/canary", json={"weight": 30}, headers=auth)
    assert started.status_code == 200, started.text
    view = watched(own)
    view.context.add_init_script(f"sessionStorage.setItem('tabserve.token', '{TOKEN}')")
    view.goto("/ui/models/iris")
    panel = view.page.locator("[data-canary-panel]")
    assert panel.locator("[data-canary-state]").inner_text() == "Version 2 answers 30% of production traffic"
    view.page.once("dialog", lambda dialog: dialog.accept())  # "Stop the canary of version 2? ..."
    panel.locator("button[data-canary=stop]").click()
    view.page.get_by_text("the canary of version 2 stopped.").wait_for()
    assert _production_rows(view.page) == ["1"]
    view.goto("/ui/models/iris")
    assert panel.locator("[data-canary-outcome]").inner_text() == "stopped"
    newest = view.page.locator("[data-history] tbody tr").first.inner_text()
    assert "canary" in newest and "stopped by http" in newest
    assert panel.locator("form[data-canary-start]").count() == 1  # another can start
    assert own.client.get("/models/iris/canary").json()["canary"] is None
    assert view.errors == [] and view.foreign == []


def test_a_wrong_token_is_refused_plainly(browser, own, watched):
    view = watched(own)
    view.goto("/ui/models/iris/versions/2")
    view.page.click("button[data-action=promote]")
    _token_dialog(view.page, "not-the-token")
    view.page.get_by_text("Refused (401)").wait_for()
    assert view.page.evaluate("() => sessionStorage.length") == 0  # the wrong token is forgotten
    assert own.client.get("/models/iris").json()["versions"][1]["aliases"] == []
    assert [e for e in view.errors if "401" not in e] == []  # the browser logs the 401 itself


def test_predict_from_the_form(browser, shared, watched):
    view = watched(shared)
    view.goto("/ui/predict?model=iris&version=2")
    for name, value in zip(
        ("sepal_length", "sepal_width", "petal_length", "petal_width"),
        ("5.1", "3.8", "1.5", "0.3"),
        strict=True,
    ):
        view.page.fill(f"[data-feature={name}]", value)
    view.page.click("[data-predict-form] button[type=submit]")
    answer = view.page.locator("[data-predict-result] [data-label]")
    answer.wait_for()
    assert answer.inner_text() == "setosa"
    assert "version 2" in view.page.locator("[data-predict-result] .answer").inner_text()
    assert view.page.locator("[data-predict-result] svg rect").count() == 6  # three bars and their tracks
    view.page.fill("[data-feature=petal_width]", "")  # an empty field is a missing value: imputed
    view.page.click("[data-predict-form] button[type=submit]")
    view.page.locator("[data-predict-result] [data-label]").wait_for()
    view.page.fill("[data-feature=petal_width]", "wide")
    view.page.click("[data-predict-form] button[type=submit]")
    error = view.page.locator("[data-error-for=predict]")
    error.wait_for()
    assert error.inner_text().startswith("422: ") and "petal_width" in error.inner_text()
    assert [e for e in view.errors if "422" not in e] == []  # the browser logs the 422 itself


def test_predict_a_csv_upload_into_a_csv_download(browser, shared, watched, tmp_path):
    view = watched(shared)
    view.goto("/ui/predict")
    upload = tmp_path / "rows.csv"
    upload.write_text("sepal_length,sepal_width,petal_length,petal_width\n5.1,3.8,1.5,0.3\n6.7,3.0,5.2,2.3\n")
    view.page.set_input_files("[data-csv-file]", str(upload))
    with view.page.expect_download() as caught:
        view.page.click("[data-csv-form] button[type=submit]")
    saved = tmp_path / "out.csv"
    caught.value.save_as(saved)
    rows = list(csv.DictReader(io.StringIO(saved.read_text())))
    assert [r["prediction"] for r in rows] == ["setosa", "virginica"]
    assert view.page.locator("[data-csv-result] a").inner_text() == "Download 2 predictions (CSV)"


def test_the_csv_download_holds_the_input_columns_then_the_predictions(browser, shared, watched, tmp_path):
    view = watched(shared)
    view.goto("/ui/predict")
    upload = tmp_path / "labelled.csv"
    upload.write_text(
        "id,sepal_length,sepal_width,petal_length,petal_width,species\n"
        '"a, first",5.1,3.8,1.5,0.3,setosa\n\n'
        '"b ""second""",6.7,3.0,5.2,2.3,virginica\n'
    )
    view.page.set_input_files("[data-csv-file]", str(upload))
    with view.page.expect_download() as caught:
        view.page.click("[data-csv-form] button[type=submit]")
    saved = tmp_path / "out.csv"
    caught.value.save_as(saved)
    header, *rows = list(csv.reader(io.StringIO(saved.read_text())))
    inputs = ["id", "sepal_length", "sepal_width", "petal_length", "petal_width", "species"]
    assert header == [*inputs, "prediction", "proba_setosa", "proba_versicolor", "proba_virginica"]
    assert [r[:6] for r in rows] == [
        ["a, first", "5.1", "3.8", "1.5", "0.3", "setosa"],
        ['b "second"', "6.7", "3.0", "5.2", "2.3", "virginica"],
    ]
    assert [r[6] for r in rows] == ["setosa", "virginica"]
    note = view.page.locator("[data-csv-result] [data-ignored]").inner_text()
    assert note == "Not used by the model (kept in the download): id, species."
    assert view.page.locator("[data-csv-result] a").inner_text() == "Download 2 predictions (CSV)"


def _unauthorized(view: Watched) -> list[str]:
    """Start recording the page's 401 answers; the list fills as they come."""
    refused: list[str] = []
    view.page.on("response", lambda r: r.status == 401 and refused.append(r.url))
    return refused


def test_job_pages_without_the_token_stop_polling_and_ask_for_it(browser, own, watched):
    auth = {"authorization": f"Bearer {TOKEN}"}
    started = own.client.post("/models/iris/train", json={"search": {"cv": 2}}, headers=auth)
    assert started.status_code == 202, started.text
    job_id = started.json()["id"]
    view = watched(own)
    view.context.add_init_script("sessionStorage.setItem('tabserve.token', 'a-wrong-token')")
    refused = _unauthorized(view)
    view.goto(f"/ui/jobs/{job_id}")
    needed = view.page.locator("[data-token-needed]")
    needed.wait_for()
    assert "needs the server token" in needed.inner_text()
    assert view.page.locator("[data-job-status]").inner_text() == "not read yet"  # nothing from the page
    eventually(
        lambda: own.client.get(f"/jobs/{job_id}", headers=auth).json()["status"] in ("succeeded", "failed"),
        "the job to end",
        timeout=120,
    )
    assert len(refused) == 1  # one refused read (the wrong token), then no polling while the job ran
    needed.locator("button").click()
    _token_dialog(view.page, TOKEN)
    view.page.locator("[data-job-result] a").wait_for()
    assert view.page.locator("[data-job-status]").inner_text() == "succeeded"
    assert view.page.locator("[data-job-model] a").inner_text() == "iris"
    assert '"cv": 2' in view.page.locator("[data-job-overrides] pre").inner_text()
    assert needed.count() == 0 and len(refused) == 1

    listing = watched(own)  # a tab with no token at all: it says so without asking the server
    refused = _unauthorized(listing)
    listing.goto("/ui/jobs")
    listing.page.locator("[data-token-needed]").wait_for()
    assert listing.page.locator(f"a[href='/ui/jobs/{job_id}']").count() == 0
    assert refused == []
    listing.page.locator("[data-token-needed] button").click()
    _token_dialog(listing.page, TOKEN)
    listing.page.locator(f"a[href='/ui/jobs/{job_id}']").wait_for()
    assert listing.page.locator("tbody .status.succeeded").count() == 1
    assert refused == [] and listing.errors == []
    assert [e for e in view.errors if "401" not in e] == []  # the browser logs the wrong token's 401


def test_the_drift_page_flags_a_shifted_feature_and_shows_shadow_agreement(browser, own, watched):
    import numpy as np
    from axe_playwright_python.sync_playwright import Axe
    from sklearn.datasets import load_iris

    auth = {"authorization": f"Bearer {TOKEN}"}
    assert own.client.post("/models/iris/versions/2/shadow", headers=auth).status_code == 200
    rows = load_iris().data[np.random.default_rng(0).integers(0, 150, 1000)]
    rows[:, 1] += 1.5  # sepal_width moved up
    for start in range(0, 1000, 100):
        answer = own.client.post("/predict", json={"instances": rows[start : start + 100].tolist()})
        assert answer.status_code == 200, answer.text
    view = watched(own)
    view.goto("/ui/models/iris")
    view.page.click("a[href='/ui/drift?model=iris']")
    table = view.page.locator("[data-drift-table]")
    table.wait_for()
    assert (
        table.locator("tbody tr").first.get_attribute("data-feature") == "sepal_width"
    )  # most drifted first
    levels = {
        row.get_attribute("data-feature"): row.get_attribute("data-level")
        for row in table.locator("tbody tr").all()
    }
    assert levels == {
        "sepal_width": "drifted",
        "sepal_length": "stable",
        "petal_length": "stable",
        "petal_width": "stable",
    }
    assert table.locator("tr[data-feature=sepal_width] meter").evaluate("m => m.value") == 0.5  # capped bar
    assert view.page.locator("[data-shadow-state=on]").count() == 1
    pair = view.page.locator("[data-shadow-pair='1-2'] [data-agreement]")
    assert pair.inner_text() == "100.0 %"  # v2 is a copy of v1
    results = Axe().run(view.page)
    bad = [v["id"] for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
    assert bad == [] and view.errors == [] and view.foreign == []


def test_home_follows_a_running_job_with_the_tabs_token(browser, own, watched):
    """The page names the job only; the script reads its progress with the token and follows it to its end."""
    import time

    from tabserve.config import load_settings
    from tabserve.registry import open_registry

    registry = open_registry(load_settings(own.config, environ={}))
    try:
        job = registry.metadata.create_job("e" * 32, "iris", {})
        now = time.time()
        registry.metadata.update_job(
            job.id, status="running", done=3, total=10, started_at=now, heartbeat_at=now
        )
        view = watched(own)
        view.context.add_init_script(f"sessionStorage.setItem('tabserve.token', '{TOKEN}')")
        view.page.goto("/")  # not goto(): the page polls, so the network is never idle
        block = view.page.locator(f"[data-job='{job.id}']")
        eventually(lambda: block.locator("[data-job-text]").inner_text() == "3 / 10 fits", "the progress")
        assert block.locator("[data-job-status]").inner_text() == "running"
        assert block.locator("[data-job-bar]").evaluate("bar => bar.value") == 30
        registry.metadata.finish_job(job.id, "iris", status="succeeded", done=10, version=1)
        eventually(lambda: block.locator("[data-job-status]").inner_text() == "succeeded", "the end")
        assert block.locator("[data-job-bar]").evaluate("bar => bar.value") == 100
        assert view.errors == [] and view.foreign == []
    finally:
        registry.close()


def test_no_page_scrolls_sideways_on_a_phone(browser, shared):
    context = browser.new_context(base_url=shared.url, viewport={"width": 390, "height": 844})
    try:
        page = context.new_page()
        page.set_default_timeout(WAIT_MS)
        wide = {}
        for path in PAGES:
            page.goto(path)
            page.wait_for_load_state("networkidle")
            width = page.evaluate("() => document.documentElement.scrollWidth")
            if width > 390:
                wide[path] = width
        assert wide == {}, f"pages wider than the 390 px screen: {wide}"
    finally:
        context.close()


_EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


@pytest.fixture(scope="module")
def houses_server(tmp_path_factory):
    root = tmp_path_factory.mktemp("houses-browser")
    config = yaml.safe_load((_EXAMPLES / "regression.yaml").read_text())
    config["data"]["path"] = str(_EXAMPLES / "houses.csv")
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


def test_predict_form_shows_the_value_and_its_interval(browser, houses_server, watched):
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


HOUSES_PAGES = [
    "/",
    "/ui/models/houses",
    "/ui/models/houses/versions/1",
    "/ui/data?model=houses",
    "/ui/drift?model=houses",
]


def test_a_regression_models_pages_load_cleanly_and_show_its_own_figures(browser, houses_server, watched):
    from axe_playwright_python.sync_playwright import Axe

    rows = csv.DictReader(io.StringIO((_EXAMPLES / "houses.csv").read_text()))
    instances = [
        {k: (float(v) if k != "district" else v) if v else None for k, v in row.items() if k != "price"}
        for row in rows
    ]
    assert houses_server.client.post("/predict", json={"instances": instances}).status_code == 200
    view = watched(houses_server)
    for path in HOUSES_PAGES:
        view.goto(path)
        results = Axe().run(view.page)
        bad = [v["id"] for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
        assert bad == [], f"{path}: {bad}"
    assert view.errors == [] and view.foreign == [] and view.blocked == []

    view.goto("/ui/models/houses")
    headings = view.page.locator("[data-version-table] thead th").all_inner_texts()
    assert {"Hold-out RMSE", "Hold-out MAE", "Hold-out R²"} <= set(headings)
    assert "Hold-out accuracy" not in headings
    view.page.click("[data-sort=rmse]")
    view.page.wait_for_url(re.compile(r"sort=rmse"))
    assert float(view.page.locator("[data-version-table] tbody [data-metric=rmse]").first.inner_text()) > 0

    view.goto("/ui/data?model=houses")
    target = view.page.locator("[data-target=histogram]")
    assert target.locator("h2").inner_text() == "Distribution of price"
    assert target.locator("svg rect").count() == 20
    assert view.page.locator("[data-target=classes]").count() == 0

    view.goto("/ui/drift?model=houses")
    psi = view.page.locator("[data-prediction-drift=values]")
    assert psi.inner_text().startswith("PSI of the predicted values")
    ranges = view.page.locator("[data-prediction-table] tbody th").all_inner_texts()
    assert ranges[0].startswith("below ") and ranges[-2].endswith(" and above") and ranges[-1] == "missing"
    assert view.errors == [] and view.foreign == [] and view.blocked == []
