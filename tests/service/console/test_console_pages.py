"""The console over real HTTP against `tabserve serve`: pages, form API, escaping, CSP, offline assets."""

from __future__ import annotations

import re
from html import unescape
from pathlib import Path

import pytest

from tabserve import __version__
from tests.support.servers import InProcessServer, copy_registry, register_copy, write_config

PAGES = [
    "/",
    "/ui/models/iris",
    "/ui/models/iris/versions/1",
    "/ui/models/iris/compare?a=1&b=2",
    "/ui/train",
    "/ui/jobs",
    "/ui/predict",
    "/ui/predict?model=iris&version=1",
    "/ui/data",
    "/ui/data?model=iris&version=2",
    "/ui/models/iris?sort=cv_score&order=asc&page=1",
    "/ui/drift",
    "/ui/drift?model=iris&version=2",
]


@pytest.fixture(scope="module")
def console(tmp_path_factory, trained_iris):
    """A server over a copy of iris with two versions (v2 a re-registered copy, not production)."""
    root = tmp_path_factory.mktemp("console")
    config = write_config(root, copy_registry(trained_iris[0], root / "registry"), server={"token": "s3cret"})
    register_copy(config)
    server = InProcessServer(config)
    server.wait()
    yield server
    server.terminate()


@pytest.mark.parametrize("path", PAGES)
def test_every_page_is_html_with_a_strict_csp_and_only_local_assets(console, path):
    response = console.client.get(path)
    assert response.status_code == 200, response.text[:500]
    assert response.headers["content-type"].startswith("text/html")
    csp = response.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp
    html = response.text
    for tag in re.findall(r"<script\b[^>]*>", html):
        assert re.search(r'src="/ui/static/[a-z]+\.js"', tag), tag  # no inline script
    assert not re.search(r"\son[a-z]+=", html)  # no inline handlers
    assert "style=" not in html
    for url in re.findall(r'\s(?:src|href|action)="([^"]*)"', html):
        assert url.startswith(("/", "#", "data:")), url  # nothing from another host
    assert 'href="/ui/jobs"' in html and 'href="/docs"' in html  # the navigation bar
    assert f"<footer><p>tabserve {__version__} " in html


def test_home_shows_the_production_version_with_metrics(console):
    html = console.client.get("/").text
    assert 'href="/ui/models/iris/versions/1">version 1</a>' in html
    assert "LinearDiscriminantAnalysis" in html
    assert re.search(r'<time datetime="\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"', html)
    assert "<dt>Data rows</dt><dd>150</dd>" in html
    assert 'data-auth-required="true"' in html


def test_home_shows_a_running_job_only_by_its_id_when_a_token_is_set(tmp_path, trained_iris):
    """Job status and progress need the token in the API, so the page leaves them to the script."""
    from tabserve.config import load_settings
    from tabserve.registry import open_registry

    config = write_config(
        tmp_path, copy_registry(trained_iris[0], tmp_path / "registry"), server={"token": "t"}
    )
    registry = open_registry(load_settings(config, environ={}))
    job = registry.metadata.create_job("f" * 32, "iris", {"search": {"cv": 2}})
    registry.metadata.update_job(job.id, status="running", done=3, total=10)
    server = InProcessServer(config)
    try:
        server.wait()
        html = server.client.get("/").text
        assert f'data-job="{job.id}"' in html and f'href="/ui/jobs/{job.id}"' in html
        assert "<span data-job-status>not read yet</span>" in html
        assert "3 / 10 fits" not in html and "running" not in html
        registry.metadata.finish_job(job.id, "iris", status="failed", error="test job")
        assert "data-job=" not in server.client.get("/").text  # the lock is gone with the job
    finally:
        server.terminate()
        registry.close()


def test_model_page_lists_versions_with_a_chart_and_compare(console):
    html = console.client.get("/ui/models/iris").text
    assert html.count("<tr data-version=") == 2
    assert "<svg" in html and "CV accuracy by version" in html
    assert 'action="/ui/models/iris/compare"' in html
    assert 'data-action="rollback"' in html
    assert (
        '<th scope="col" aria-sort="descending"><a href="/ui/models/iris?sort=version&amp;order=asc"' in html
    )
    assert 'class="pager"' not in html  # one page
    assert 'href="/ui/drift?model=iris"' in html


def test_model_page_sorts_on_the_server_and_refuses_unknown_columns(console):
    html = console.client.get("/ui/models/iris?sort=version&order=asc").text
    assert html.index('<tr data-version="1">') < html.index('<tr data-version="2">')
    assert (
        '<th scope="col" aria-sort="ascending"><a href="/ui/models/iris?sort=version&amp;order=desc"' in html
    )
    assert console.client.get("/ui/models/iris?sort=password").status_code == 422
    assert console.client.get("/ui/models/iris?page=0").status_code == 422


def test_model_page_pages_many_versions(tmp_path, trained_iris):
    config = write_config(tmp_path, copy_registry(trained_iris[0], tmp_path / "registry"))
    for _ in range(54):
        register_copy(config)  # versions 2..55
    server = InProcessServer(config)
    try:
        server.wait()
        first = server.client.get("/ui/models/iris").text
        assert first.count("<tr data-version=") == 50 and '<tr data-version="55">' in first
        assert "Versions 1&ndash;50 of 55 (page 1 of 2)" in first
        assert 'href="/ui/models/iris?sort=version&amp;order=desc&amp;page=2" rel="next"' in first
        # compare offers every version, not one page; a canary every one but production
        assert first.count("<option value=") == 2 * 55 + 54
        second = server.client.get("/ui/models/iris?page=2").text
        rows = re.findall(r'<tr data-version="(\d+)">', second)
        assert rows == ["5", "4", "3", "2", "1"] and 'rel="prev"' in second and 'rel="next"' not in second
        ascending = server.client.get("/ui/models/iris?sort=version&order=asc&page=2").text
        assert re.findall(r'<tr data-version="(\d+)">', ascending)[0] == "51"
    finally:
        server.terminate()


def test_version_page_holds_everything_the_version_records(console):
    detail = console.client.get("/models/iris/versions/1").json()
    html = console.client.get("/ui/models/iris/versions/1").text
    assert detail["sha256"] in html and detail["data_hash"] in html
    for feature in detail["feature_schema"]["features"]:
        assert f'<th scope="row">{feature["name"]}</th>' in html
    assert "ONNX Runtime" in html  # iris is numeric: compiled
    assert "Cross-validation results" in html and html.count('<tr><td class="n">') >= 10
    assert "data-promoted" in html  # version 1 is production: shown as such, no promote button
    assert "scikit-learn" in html and '"auto_promote": true' in unescape(html)  # libraries, config
    assert "s3cret" not in html  # the token is never recorded


def test_compare_page_shows_both_versions_and_differences(console):
    html = console.client.get("/ui/models/iris/compare?a=1&b=2").text
    assert "Hold-out accuracy" in html and "Difference" in html
    assert html.count("<svg") == 2  # both confusion matrices
    assert "Cross-validation results of v1" in html and "Cross-validation results of v2" in html


def test_predict_page_has_a_field_per_feature_and_a_version_choice(console):
    html = console.client.get("/ui/predict?model=iris&version=1").text
    for name in ("sepal_length", "sepal_width", "petal_length", "petal_width"):
        assert f'data-feature="{name}"' in html
    assert '<option value="1" selected>v1 (production)</option>' in html
    assert '<option value="2">v2</option>' in html


def test_data_page_summarises_the_training_data(console):
    html = console.client.get("/ui/data").text
    assert "150 rows" in html and "This is the data version 1 was trained on." in html
    row = re.search(r'<th scope="row">sepal_length</th>(.*?)</tr>', html, re.S).group(1)
    assert "5.843" in row and "0.828" in row  # iris sepal length mean and std
    assert 'src="/models/iris/versions/1/pairplot.png"' in html  # the chosen version's own picture
    picture = console.client.get("/models/iris/versions/1/pairplot.png")
    assert picture.status_code == 200 and picture.content.startswith(b"\x89PNG")
    other = console.client.get("/ui/data?model=iris&version=2").text  # v2: registered, no pictures
    assert "Version 2 was stored without a pairplot" in other and "pairplot.png" not in other
    missing = console.client.get("/models/iris/versions/2/pairplot.png")
    assert missing.status_code == 404
    assert "model 'iris' version 2 was stored without a pairplot" in missing.json()["detail"]


@pytest.mark.parametrize(
    ("path", "status"),
    [("/ui/models/wine", 404), ("/ui/models/iris/versions/9", 404), ("/ui/jobs/00ff", 404)],
)
def test_missing_things_are_html_pages_with_their_status(console, path, status):
    response = console.client.get(path)
    assert response.status_code == status
    assert response.headers["content-type"].startswith("text/html")
    assert "content-security-policy" in response.headers


def test_jobs_list_json_and_page(console):
    auth = {"authorization": "Bearer s3cret"}  # job details need the token when one is set
    assert console.client.get("/jobs").status_code == 401
    assert console.client.get("/jobs", headers=auth).json() == {"jobs": []}
    page = console.client.get("/ui/jobs").text  # a token is set: the page lists no job itself
    assert "the job list needs it" in page and 'data-jobs-list data-limit="50"' in page
    assert console.client.get("/jobs?limit=0", headers=auth).status_code == 422


def test_api_docs_render_from_local_assets(console):
    for path, asset in (("/docs", "/ui/apidocs/swagger-ui-bundle.js"), ("/redoc", "/ui/redoc.js")):
        html = console.client.get(path).text
        assert f'src="{asset}"' in html
        assert "http" not in html  # no CDN, no other host
        script = console.client.get(asset)
        assert script.status_code == 200 and len(script.content) > 100_000
        assert script.headers["content-type"].startswith("text/javascript")
    redoc = console.client.get("/ui/redoc.js").text
    assert "cdn.redoc.ly" not in redoc and '"/ui/static/redoc-logo.svg"' in redoc  # its logo is ours
    assert console.client.get("/ui/static/redoc-logo.svg").status_code == 200
    assert console.client.get("/ui/apidocs/swagger-ui.css").status_code == 200
    assert console.client.get("/ui/static/main.js").headers["content-type"].startswith("text/javascript")


def test_training_form_needs_the_token(console):
    response = console.client.post("/ui/api/models/iris/train", json={"cv": "3"})
    assert response.status_code == 401
    wrong = console.client.post(
        "/ui/api/models/iris/train", json={"cv": "3"}, headers={"authorization": "Bearer nope"}
    )
    assert wrong.status_code == 401


@pytest.mark.parametrize(
    ("form", "field", "words"),
    [
        ({"cv": "1"}, "cv", "greater than or equal to 2"),
        ({"cv": "x"}, "cv", "whole number"),
        ({"candidates": "- estimator: os.system"}, "candidates", "not in an allowed package"),
        ({"candidates": "[oops"}, "candidates", "not valid YAML"),
        ({"split_kind": "test_fraction", "split_value": "2"}, "split", "split"),
    ],
)
def test_training_form_errors_name_the_field(console, form, field, words):
    response = console.client.post(
        "/ui/api/models/iris/train", json=form, headers={"authorization": "Bearer s3cret"}
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["field"] == field and words in body["detail"]


def test_user_data_is_escaped_everywhere(tmp_path: Path):
    """A column name and a category value holding markup are shown as text on every page."""
    evil = "<script>alert(1)</script>"
    rows = ["x,colour,label"]
    for i in range(40):
        colour = evil if i % 2 else "red"
        rows.append(f"{i % 7},{colour},{'yes' if i % 2 else 'no'}")
    csv = tmp_path / "evil.csv"
    csv.write_text("\n".join(rows).replace("x,colour", f'x,"{evil}"', 1) + "\n")
    config = write_config(
        tmp_path,
        {"url": f"sqlite:///{tmp_path / 'registry.db'}", "artifacts": str(tmp_path / "artifacts")},
        data={"source": "csv", "path": str(csv), "target": "label"},
        split={"test_per_class": 3},
        search={"cv": 2},
    )
    config.write_text(
        config.read_text()
        + "model: evil\ncandidates:\n- estimator: sklearn.linear_model.LogisticRegression\n"
    )
    from tabserve.config import load_settings
    from tabserve.workflow import train_and_register

    train_and_register(load_settings(config, environ={}))
    server = InProcessServer(config)
    try:
        server.wait()
        assert "No jobs yet." in server.client.get("/ui/jobs").text  # no token: listed here
        for path in ("/", "/ui/models/evil", "/ui/models/evil/versions/1", "/ui/predict", "/ui/data"):
            html = server.client.get(path).text
            assert "<script>alert" not in html, path
        version = server.client.get("/ui/models/evil/versions/1").text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in version  # the column and the category
        assert server.client.get("/ui/predict").text.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 2
        answer = server.client.post(
            "/predict", json={"instances": [{"x": 1, evil: evil}, {"x": 2, evil: "red"}]}
        )
        assert answer.status_code == 200, answer.text
        drift = server.client.get("/ui/drift").text
        assert "<script>alert" not in drift
        assert 'data-feature="&lt;script&gt;alert(1)&lt;/script&gt;"' in drift  # the column, as text
    finally:
        server.terminate()


def test_a_notebook_version_shows_its_pipeline_steps_and_whether_its_rows_are_a_sample(tmp_path):
    import tabserve
    from tests.support.notebook_models import customers, mixed_pipeline

    x, y = customers()
    pipeline = mixed_pipeline(x[:180], y[:180])
    registry = {"url": f"sqlite:///{tmp_path / 'registry.db'}", "artifacts": str(tmp_path / "artifacts")}
    config = write_config(tmp_path, registry)
    config.write_text(f"model: churn\n{config.read_text()}")
    tabserve.register(pipeline, name="churn", X_sample=x.head(20), registry=config)
    tabserve.register(pipeline, name="churn", X_sample=x.head(20), data_rows=180, registry=config)
    server = InProcessServer(config)
    try:
        server.wait()
        sampled = unescape(re.sub(r"<[^>]+>", "", server.client.get("/ui/models/churn/versions/1").text))
        trained = unescape(re.sub(r"<[^>]+>", "", server.client.get("/ui/models/churn/versions/2").text))
    finally:
        server.terminate()
    assert "prep: ColumnTransformer → vote: VotingClassifier(" in sampled
    assert "a sample of 20 rows" in sampled
    assert "180 rows, content hash" in trained and "sample of" not in trained
