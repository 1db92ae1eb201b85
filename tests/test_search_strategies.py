"""Random and successive-halving searches from the config: distributions, seeding, progress, limits."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from scipy import stats

from tabserve.config import Settings
from tabserve.errors import ConfigError
from tabserve.jobs.policy import NotAcceptedError, check_train_overrides
from tabserve.search_plan import planned_fits
from tabserve.training import build_param_grid, train
from tests.support.settings import make_settings

SPACE = [
    {
        "estimator": "sklearn.linear_model.LogisticRegression",
        "grid": {"C": {"loguniform": [1e-3, 1e2]}},
    },
    {
        "estimator": "sklearn.tree.DecisionTreeClassifier",
        "grid": {"max_depth": {"randint": [2, 12]}, "min_samples_leaf": [1, 2, 4]},
    },
]


def searched(
    root: Path, strategy: str, candidates: list[dict] = SPACE, seed: int = 7, n_iter: int = 6
) -> Settings:
    return make_settings(
        root,
        split={"random_state": seed},
        search={"strategy": strategy, "n_iter": n_iter, "cv": 3, "n_jobs": 1},
        candidates=candidates,
    )


def test_distributions_become_scipy_distributions():
    grid = build_param_grid(searched(Path("/unused"), "random").candidates, 0)
    assert grid[0]["clf__C"].dist.name == stats.loguniform.name
    low, high = grid[0]["clf__C"].support()
    assert (low, high) == pytest.approx((1e-3, 1e2))
    assert grid[1]["clf__max_depth"].support() == (2, 11)  # randint's high is left out, as in scipy
    assert grid[1]["clf__min_samples_leaf"] == [1, 2, 4]


def test_random_search_tries_n_iter_candidates_and_records_the_strategy(tmp_path: Path):
    seen: list[tuple[int, int]] = []
    trained = train(searched(tmp_path, "random"), progress=lambda done, total: seen.append((done, total)))

    assert len(trained.cv_results) == 6
    assert trained.metrics["search_strategy"] == "random"
    assert {total for _, total in seen} == {6 * 3 + 1}
    assert seen[0] == (0, 19) and seen[-1] == (19, 19)
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)
    sampled_c = [row["params"]["C"] for row in trained.cv_results if "C" in row["params"]]
    assert all(1e-3 <= c <= 1e2 for c in sampled_c)
    depths = [row["params"]["max_depth"] for row in trained.cv_results if "max_depth" in row["params"]]
    assert all(2 <= d < 12 for d in depths)


def test_random_search_is_reproducible_with_the_seed(tmp_path: Path):
    first = train(searched(tmp_path / "a", "random"))
    second = train(searched(tmp_path / "b", "random"))
    other = train(searched(tmp_path / "c", "random", seed=8))

    def tried(trained):
        return [(row["estimator"], row["params"]) for row in trained.cv_results]

    assert (first.estimator, first.params) == (second.estimator, second.params)
    assert tried(first) == tried(second)
    assert tried(first) != tried(other)


def test_halving_search_with_distributions_reports_rungs_and_progress(tmp_path: Path):
    seen: list[tuple[int, int]] = []
    trained = train(searched(tmp_path, "halving", n_iter=9), progress=lambda d, t: seen.append((d, t)))

    assert trained.metrics["search_strategy"] == "halving"
    first_rung = [row for row in trained.cv_results if row["rung"] == 0]
    assert len(first_rung) == 9
    later = [row for row in trained.cv_results if row["rung"] > 0]
    assert later and all(row["n_resources"] > first_rung[0]["n_resources"] for row in later)
    fits = len(trained.cv_results) * 3
    total = seen[-1][1]
    assert seen[-1] == (total, total) and total >= fits + 1
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)
    assert fits in [done for done, _ in seen]  # every rung's fits were counted as they arrived
    again = train(searched(tmp_path / "again", "halving", n_iter=9))
    assert (again.estimator, again.params) == (trained.estimator, trained.params)


def test_halving_over_lists_tries_every_combination_first(tmp_path: Path):
    lists = [
        {"estimator": "sklearn.tree.DecisionTreeClassifier", "grid": {"max_depth": [1, 2, 3, 4, 5, None]}}
    ]
    trained = train(searched(tmp_path, "halving", candidates=lists))
    assert sorted(
        str(row["params"]["max_depth"]) for row in trained.cv_results if row["rung"] == 0
    ) == sorted(str(d) for d in [1, 2, 3, 4, 5, None])


def _config_error(tmp_path: Path, strategy: str, grid: dict) -> str:
    candidates = [{"estimator": "sklearn.tree.DecisionTreeClassifier", "grid": grid}]
    with pytest.raises(ConfigError) as error:
        searched(tmp_path, strategy, candidates=candidates)
    return str(error.value)


def test_a_distribution_in_a_grid_search_names_the_key_and_the_strategies(tmp_path: Path):
    message = _config_error(tmp_path, "grid", {"max_depth": {"randint": [2, 12]}})
    assert "candidates.0.grid.max_depth" in message
    assert "search.strategy random or halving" in message


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ({"normal": [0, 1]}, "unknown distribution 'normal'"),
        ({"randint": [12, 2]}, "low must be below high"),
        ({"loguniform": [0, 1]}, "loguniform: low must be above 0"),
        ({"uniform": [1]}, "uniform takes two numbers"),
        ({"uniform": ["a", "b"]}, "uniform takes two numbers"),
        ({"randint": [1.5, 4]}, "randint takes whole numbers"),
        ({"uniform": [0, 1], "randint": [1, 2]}, "a distribution is one of"),
    ],
)
def test_a_bad_distribution_names_the_candidate_and_parameter(tmp_path: Path, value: dict, reason: str):
    message = _config_error(tmp_path, "random", {"min_samples_split": value})
    assert "candidates.0.grid.min_samples_split" in message
    assert reason in message


def test_unknown_strategy_is_a_config_error(tmp_path: Path):
    with pytest.raises(ConfigError, match=r"search\.strategy"):
        make_settings(tmp_path, search={"strategy": "bayes"})


def test_planned_fits_per_strategy():
    grid = Settings().search.model_copy(update={"cv": 5, "strategy": "grid"})
    assert planned_fits(grid, [3, 6, 1]) == (10, 50)
    random = grid.model_copy(update={"strategy": "random", "n_iter": 20})
    assert planned_fits(random, [None, 6]) == (20, 100)
    assert planned_fits(random, [3, 6]) == (9, 45)  # a grid of lists smaller than n_iter is tried once
    halving = grid.model_copy(update={"strategy": "halving", "n_iter": 9})
    assert planned_fits(halving, [None]) == (9, (9 + 3 + 1) * 5)
    assert planned_fits(halving, [27]) == (27, (27 + 9 + 3 + 1) * 5)
    assert planned_fits(halving, [243]) == (243, (243 + 81 + 27 + 9 + 3 + 1) * 5)
    assert planned_fits(halving, [2]) == (2, 2 * 5)


def test_the_policy_counts_fits_without_importing_scikit_learn():
    import subprocess
    import sys

    probe = "import sys, tabserve.jobs.policy; print('sklearn' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def _refused(overrides: dict) -> str | None:
    try:
        check_train_overrides(Settings(), overrides)
    except NotAcceptedError as error:
        return str(error)
    return None


def test_policy_counts_n_iter_times_folds_for_random_search():
    limit = Settings().server.max_train_fits
    space = [
        {"estimator": "sklearn.linear_model.LogisticRegression", "grid": {"C": {"loguniform": [1e-3, 1e2]}}}
    ]
    folds = 5
    fitting = limit // folds
    assert (
        _refused({"search": {"strategy": "random", "n_iter": fitting, "cv": folds}, "candidates": space})
        is None
    )
    message = _refused(
        {"search": {"strategy": "random", "n_iter": fitting + 1, "cv": folds}, "candidates": space}
    )
    assert message is not None
    assert f"{(fitting + 1) * folds} fits" in message and "server.max_train_fits" in message


def test_policy_lets_random_search_sample_a_grid_too_large_to_search_whole():
    limit = Settings().server.max_train_fits
    huge = [
        {"estimator": "sklearn.linear_model.LogisticRegression", "grid": {"C": list(range(1, limit + 1))}}
    ]
    assert _refused({"candidates": huge}) is not None
    assert _refused({"search": {"strategy": "random", "n_iter": 10}, "candidates": huge}) is None


@pytest.fixture(scope="module")
def cluster() -> Iterator[object]:
    import distributed

    with distributed.LocalCluster(
        processes=True, n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address="127.0.0.1:0"
    ) as local:
        yield local


@pytest.mark.slow
def test_random_search_on_dask_matches_the_local_search(cluster, tmp_path: Path):
    local = train(searched(tmp_path / "local", "random"))
    remote_settings = searched(tmp_path / "dask", "random")
    dask = {"backend": "dask", "dask_address": cluster.scheduler_address, "n_jobs": -1}
    remote_settings = remote_settings.model_copy(
        update={"search": remote_settings.search.model_copy(update=dask)}
    )
    remote = train(remote_settings)

    def tried(trained):
        return [(row["params"], row["mean_test_score"]) for row in trained.cv_results]

    assert (remote.estimator, remote.params) == (local.estimator, local.params)
    assert tried(remote) == tried(local)


def test_cli_train_prints_the_strategy_and_the_version_keeps_it(tmp_path: Path, capsys):
    import json

    from tabserve.cli import main

    settings = searched(tmp_path, "random", n_iter=4)
    config = tmp_path / "random.json"
    config.write_text(json.dumps(settings.model_dump(mode="json", exclude={"server": {"token"}})))
    assert main(["train", "-c", str(config)]) == 0
    assert "search: random, 4 candidates tried" in capsys.readouterr().out
    assert main(["models", "show", "1", "-c", str(config)]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["metrics"]["search_strategy"] == "random"


def test_precheck_tries_each_end_of_a_distribution(tmp_path: Path):
    from tabserve.jobs.precheck import check_run

    ok = [{"estimator": "sklearn.tree.DecisionTreeClassifier", "grid": {"max_depth": {"randint": [1, 5]}}}]
    check_run(searched(tmp_path, "random", candidates=ok))
    bad = [{"estimator": "sklearn.tree.DecisionTreeClassifier", "grid": {"max_depth": {"randint": [0, 5]}}}]
    with pytest.raises(ConfigError, match=r"candidates\.0\.grid\.max_depth: a value DecisionTreeClassifier"):
        check_run(searched(tmp_path, "random", candidates=bad))


def test_the_readme_example_loads_with_yaml_exponents(tmp_path: Path):
    config = tmp_path / "search.yaml"
    config.write_text(
        "search: {strategy: random, n_iter: 30, cv: 5}\n"
        "candidates:\n"
        "  - estimator: sklearn.linear_model.LogisticRegression\n"
        "    grid: {C: {loguniform: [1e-3, 1e2]}}\n"
        "  - estimator: sklearn.tree.DecisionTreeClassifier\n"
        "    grid: {max_depth: {randint: [2, 12]}, min_samples_leaf: [1, 2, 5]}\n"
    )
    from tabserve.config import load_settings

    settings = load_settings(str(config), environ={})
    assert settings.candidates[0].grid["C"] == {"loguniform": [1e-3, 1e2]}
    assert build_param_grid(settings.candidates, 0)[0]["clf__C"].support() == pytest.approx((1e-3, 1e2))
    with pytest.raises(ConfigError, match=r"candidates\.0\.grid\.C: loguniform takes two numbers"):
        make_settings(
            tmp_path,
            search={"strategy": "random"},
            candidates=[
                {
                    "estimator": "sklearn.linear_model.LogisticRegression",
                    "grid": {"C": {"loguniform": ["x", 1]}},
                }
            ],
        )
