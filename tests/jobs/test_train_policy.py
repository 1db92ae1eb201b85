"""POST /train may reshape a run but never choose a file, URL, database or cluster (issue 9, finding 1)."""

from __future__ import annotations

import http.server
import os
import threading

import pytest

from tabserve.config import Settings, load_settings
from tabserve.errors import NotAcceptedError
from tabserve.jobs.policy import MAX_CV, check_train_overrides


class _Listener(http.server.ThreadingHTTPServer):
    """A loopback HTTP server that counts what reaches it."""

    def __init__(self) -> None:
        self.hits = 0

        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.hits += 1
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"a,species\n1,x\n")

            def log_message(self, *_args: object) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)


@pytest.fixture
def listener():
    server = _Listener()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


REACHING_OUT = [
    ({"data": {"source": "csv", "path": "/etc/os-release"}}, "data.source"),
    ({"data": {"path": "/etc/passwd"}}, "data.path"),
    (
        {"data": {"source": "sql", "url": "sqlite:///made-by-a-request.db", "query": "SELECT 1"}},
        "data.source",
    ),
    ({"data": {"query": "CREATE TABLE t (a int)"}}, "data.query"),
    ({"data": {"table": "users"}}, "data.table"),
    ({"search": {"backend": "dask", "dask_address": "tcp://127.0.0.1:8786"}}, "search.backend"),
    ({"search": {"dask_address": "tcp://10.0.0.1:8786"}}, "search.dask_address"),
    ({"search": {"n_jobs": 100_000}}, "search.n_jobs"),
    ({"search": {"n_jobs": -7}}, "search.n_jobs"),
    ({"search": {"cv": MAX_CV + 1}}, "search.cv"),
    (
        {"candidates": [{"estimator": "sklearn.ensemble.RandomForestClassifier", "grid": {"n_jobs": [64]}}]},
        "n_jobs",
    ),
    (
        {
            "candidates": [
                {"estimator": "sklearn.linear_model.LogisticRegression", "grid": {"C": list(range(1, 600))}}
            ]
        },
        "server.max_train_fits",
    ),
]


@pytest.mark.parametrize(("overrides", "named"), REACHING_OUT)
def test_overrides_that_reach_beyond_the_config_are_refused(overrides, named):
    with pytest.raises(NotAcceptedError) as error:
        check_train_overrides(Settings(), overrides)
    assert named in str(error.value)
    for secret in ("/etc/", "10.0.0.1", "CREATE TABLE", "made-by-a-request"):
        assert secret not in str(error.value)  # the value sent is never repeated back


def test_what_stays_inside_the_machine_may_change():
    run = check_train_overrides(
        Settings(),
        {
            "split": {"test_fraction": 0.3},
            "search": {"cv": 4, "scoring": "f1_macro", "n_jobs": min(2, os.cpu_count() or 1)},
            "data": {"features": ["sepal_length", "petal_length"]},
            "candidates": [
                {"estimator": "sklearn.tree.DecisionTreeClassifier", "grid": {"max_depth": [2, 3]}}
            ],
        },
    )
    assert run.search.cv == 4 and run.split.test_fraction == 0.3
    assert run.data.features == ["sepal_length", "petal_length"]


def test_an_operator_allowlist_lets_a_request_pick_a_listed_source(tmp_path):
    listed = {"source": "csv", "path": str(tmp_path / "b.csv"), "target": "y"}
    settings = Settings(server={"train_sources": [listed]})
    run = check_train_overrides(settings, {"data": {"source": "csv", "path": listed["path"], "target": "y"}})
    assert run.data.path == listed["path"]
    with pytest.raises(NotAcceptedError, match=r"data\.source"):
        check_train_overrides(settings, {"data": {"source": "csv", "path": str(tmp_path / "other.csv")}})


@pytest.mark.parametrize(
    "overrides",
    [
        {"data": {"source": "csv", "path": "URL"}},
        {"data": {"source": "csv", "path": "URL", "target": "species"}},
    ],
)
def test_a_request_never_makes_the_server_fetch_a_url(app_server, listener, overrides):
    url = f"http://user:pw@127.0.0.1:{listener.server_address[1]}/x.csv"
    overrides = {"data": {**overrides["data"], "path": url}}
    response = app_server.client.post("/train", json=overrides)
    assert response.status_code == 422, response.text
    assert "data.source" in response.json()["detail"]
    assert "pw" not in response.text and "127.0.0.1" not in response.text
    assert listener.hits == 0
    assert 'tabserve_training_jobs{status="queued"} 0.0' in app_server.client.get("/metrics").text


def test_a_relative_body_path_is_read_against_the_config_folder_like_the_allowlist(tmp_path, monkeypatch):
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "tabserve.yaml").write_text(
        "server:\n  train_sources:\n    - {source: csv, path: b.csv, target: y}\n"
    )
    monkeypatch.chdir(tmp_path)
    settings = load_settings(conf / "tabserve.yaml", environ={})

    run = check_train_overrides(settings, {"data": {"source": "csv", "path": "b.csv", "target": "y"}})

    assert run.data.path == str(conf / "b.csv")  # the listed file, not ./b.csv in the server's cwd
    with pytest.raises(NotAcceptedError, match=r"data\.source"):
        check_train_overrides(settings, {"data": {"source": "csv", "path": "conf/b.csv", "target": "y"}})


UNBUILDABLE = [
    ({"search": {"scoring": "accuracy_typo"}}, "search.scoring", "accuracy_typo"),
    (
        {
            "candidates": [
                {"estimator": "sklearn.linear_model.LogisticRegression", "grid": {"C": [1.0, -7.5]}}
            ]
        },
        "candidates.0.grid.C",
        "-7.5",
    ),
    (
        {
            "candidates": [
                {"estimator": "sklearn.tree.DecisionTreeClassifier", "grid": {"criterion": ["wrongo"]}}
            ]
        },
        "candidates.0.grid.criterion",
        "wrongo",
    ),
]


@pytest.mark.parametrize(("overrides", "named", "sent"), UNBUILDABLE, ids=["scoring", "C", "criterion"])
def test_a_run_that_cannot_be_built_is_refused_before_it_is_accepted(shared_server, overrides, named, sent):
    response = shared_server.client.post("/train", json=overrides)
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert detail.startswith(named), detail
    assert sent not in detail  # the key is named, the value sent is not repeated
    assert 'tabserve_training_jobs{status="queued"} 0.0' in shared_server.client.get("/metrics").text


def test_the_precheck_accepts_what_scikit_learn_accepts():
    from tabserve.jobs.precheck import check_run

    run = check_train_overrides(
        Settings(),
        {
            "search": {"scoring": "balanced_accuracy"},
            "candidates": [
                {"estimator": "sklearn.linear_model.LogisticRegression", "grid": {"C": [0.1, 10]}}
            ],
        },
    )
    check_run(run)  # no error


# ---- the fit limit counts the search the run will make: its task's default candidates ----
# The seed's classification grid is 3 + 6 + 1 = 10 combinations, the regression defaults 3 + 2 + 1 = 6:
# with 10 folds, 100 and 60 fits, on either side of a limit of 80.
TEN_FOLDS = {"search": {"cv": 10}}


def _limited(limit: int = 80, **sections) -> Settings:
    return Settings.model_validate({"server": {"max_train_fits": limit}, **sections})


REGRESSION = {"task": "regression", "split": {"test_fraction": 0.25, "test_per_class": None}}


def test_a_regression_run_is_counted_by_the_regression_defaults_not_the_classification_grid():
    assert check_train_overrides(_limited(**REGRESSION), TEN_FOLDS).search.cv == 10
    with pytest.raises(NotAcceptedError, match=r"6 parameter combinations with 11 folds = 66 fits"):
        check_train_overrides(_limited(65, **REGRESSION), {"search": {"cv": 11}})
    with pytest.raises(NotAcceptedError, match=r"10 parameter combinations with 10 folds = 100 fits"):
        check_train_overrides(_limited(task="classification"), TEN_FOLDS)


def test_task_auto_counts_the_task_of_the_newest_version_or_the_larger_default_search():
    auto = _limited()
    assert check_train_overrides(auto, TEN_FOLDS, newest_task="regression").search.cv == 10
    for newest in (None, "classification"):
        with pytest.raises(NotAcceptedError, match=r"= 100 fits"):
            check_train_overrides(auto, TEN_FOLDS, newest_task=newest)
    # A run that changes the data may change what auto decides: the larger search is counted.
    with pytest.raises(NotAcceptedError, match=r"= 100 fits"):
        check_train_overrides(auto, {**TEN_FOLDS, "data": {"target": "species"}}, newest_task="regression")


def test_given_candidates_are_counted_whatever_the_task():
    forest = [
        {
            "estimator": "sklearn.ensemble.RandomForestRegressor",
            "grid": {"max_depth": [2, 3, 4, 5, 6, 7, 8, 9, 10]},
        }
    ]
    with pytest.raises(NotAcceptedError, match=r"9 parameter combinations with 10 folds = 90 fits"):
        check_train_overrides(_limited(**REGRESSION), {**TEN_FOLDS, "candidates": forest})


def test_the_job_manager_reads_the_newest_versions_task_from_the_registry(tmp_path):
    """A server with ``task: auto`` whose model's newest version is a regressor: POST /train with ten
    folds is counted as the regression search it will run (refused here only to start no process)."""
    import numpy as np
    import pandas as pd
    from sklearn.linear_model import Ridge

    import tabserve
    from tabserve.jobs.launcher import JobManager
    from tabserve.registry import open_registry
    from tests.support.settings import make_settings

    settings = make_settings(tmp_path, model="prices", server={"max_train_fits": 59})
    x = pd.DataFrame({"a": np.arange(40.0), "b": np.arange(40.0) % 7})
    model = Ridge().fit(x, 2 * x["a"] + 1)
    tabserve.register(model, name="prices", X_sample=x.head(10), registry=settings)
    registry = open_registry(settings)
    try:
        manager = JobManager(settings, lambda: registry)
        with pytest.raises(NotAcceptedError, match=r"6 parameter combinations with 10 folds = 60 fits"):
            manager.start(TEN_FOLDS)
        assert registry.metadata.recent_jobs() == []  # refused before any job was queued
    finally:
        registry.close()
