import pytest
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.linear_model import LogisticRegression
from sklearn.tree import DecisionTreeClassifier

from tabserve.config import load_settings
from tabserve.data import load_dataset
from tabserve.errors import ConfigError
from tabserve.training import build_param_grid, fit_search, train
from tests.support.settings import make_settings


def test_default_grid_is_the_seeds_candidates():
    grid = build_param_grid(load_settings(environ={}).candidates, random_state=0)
    assert [type(entry["clf"][0]) for entry in grid] == [
        LogisticRegression,
        DecisionTreeClassifier,
        LinearDiscriminantAnalysis,
    ]
    assert grid[0]["clf__C"] == [0.5, 0.75, 1.0]
    assert grid[1]["clf__max_depth"] == [2, 3, None]
    assert grid[1]["clf__min_samples_leaf"] == [1, 2]
    assert set(grid[2]) == {"clf"}


def test_non_classifier_is_refused_with_the_reason():
    settings = load_settings(
        environ={}, overrides={"candidates": [{"estimator": "sklearn.preprocessing.StandardScaler"}]}
    )
    with pytest.raises(ConfigError, match=r"candidates.0.estimator: .*StandardScaler' is not a classifier"):
        build_param_grid(settings.candidates, 0)


def test_regressor_and_missing_class_are_refused():
    for path, reason in (
        ("sklearn.linear_model.LinearRegression", "is a regressor, but task is classification"),
        ("sklearn.linear_model.NoSuchModel", "does not name an importable class"),
    ):
        settings = load_settings(environ={}, overrides={"candidates": [{"estimator": path}]})
        with pytest.raises(ConfigError, match=reason):
            build_param_grid(settings.candidates, 0)


def test_unknown_grid_parameter_is_named():
    overrides = {"candidates": [{"estimator": "sklearn.tree.DecisionTreeClassifier", "grid": {"depth": [2]}}]}
    settings = load_settings(environ={}, overrides=overrides)
    with pytest.raises(
        ConfigError, match=r"candidates.0.grid: depth not parameters of DecisionTreeClassifier"
    ):
        build_param_grid(settings.candidates, 0)


def test_config_errors_come_before_loading_data(tmp_path):
    settings = make_settings(
        tmp_path,
        data={"source": "csv", "path": "/nonexistent.csv"},
        task="classification",
        candidates=[{"estimator": "sklearn.linear_model.LinearRegression"}],
    )
    with pytest.raises(ConfigError):  # not DataError for the missing file
        train(settings)


def test_selected_params_are_really_applied(settings):
    settings.candidates = settings.candidates[:1]
    settings.candidates[0].grid = {"C": [0.01, 100.0]}
    trained = fit_search(settings, load_dataset(settings.data))
    chosen = trained.params["C"]
    assert chosen in (0.01, 100.0)
    assert trained.pipeline.named_steps["clf"].C == chosen
    row = next(r for r in trained.cv_results if r["params"] == {"C": chosen})
    assert row["rank_test_score"] == 1


def test_iris_with_seed_grid_scores_well(trained_iris):
    _, outcome = trained_iris
    trained = outcome.trained
    assert trained.cv_score > 0.9
    assert trained.metrics["accuracy"] >= 0.9
    assert trained.metrics["confusion_matrix"]["labels"] == ["setosa", "versicolor", "virginica"]
    assert sum(map(sum, trained.metrics["confusion_matrix"]["matrix"])) == 15
    assert len(trained.cv_results) == 3 + 6 + 1
    assert set(trained.metrics["per_class"]) == {"setosa", "versicolor", "virginica"}


def test_cv_is_shuffled_so_sorted_iris_does_not_score_zero(settings):
    settings.candidates = settings.candidates[2:]  # LDA only, no grid
    trained = fit_search(settings, load_dataset(settings.data))
    assert min(r["mean_test_score"] for r in trained.cv_results) > 0.9


def test_progress_reaches_total_and_never_goes_back(settings):
    seen = []
    settings.candidates = settings.candidates[:1]
    fit_search(settings, load_dataset(settings.data), progress=lambda done, total: seen.append((done, total)))
    totals = {total for _, total in seen}
    assert totals == {3 * 3 + 1}
    dones = [done for done, _ in seen]
    assert dones == sorted(dones)
    assert dones[0] == 0 and dones[-1] == 10


def test_categorical_csv_with_missing_values_trains(tmp_path):
    settings = make_settings(
        tmp_path,
        data={"source": "csv", "path": "examples/customers.csv", "target": "churned"},
        split={"test_per_class": 10},
    )
    trained = fit_search(settings, load_dataset(settings.data))
    kinds = {f.name: f.type for f in trained.schema.features}
    assert kinds["plan"] == "categorical" and kinds["tenure_months"] == "numeric"
    assert trained.schema.classes == ["no", "yes"]
    assert trained.metrics["accuracy"] > 0.6


def test_progress_search_scores_like_grid_search_and_reports_between(settings):
    """The chunked search is scikit-learn's search scheduled in steps: same results, progress in between."""
    from sklearn.datasets import load_iris
    from sklearn.model_selection import GridSearchCV, StratifiedKFold
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    from tabserve.search import ProgressGridSearch

    x, y = load_iris(return_X_y=True)
    grid = build_param_grid(settings.candidates, random_state=0)
    pipeline = Pipeline([("scale", StandardScaler()), ("clf", grid[0]["clf"][0])])
    folds = StratifiedKFold(3, shuffle=True, random_state=0)
    plain = GridSearchCV(pipeline, grid, cv=folds, n_jobs=1).fit(x, y)
    stepped = ProgressGridSearch(pipeline, grid, cv=folds, n_jobs=1)
    seen = []
    stepped.report_to(lambda done, total: seen.append(done), total=10 * 3 + 1)
    stepped.fit(x, y)

    assert list(stepped.cv_results_["params"]) == list(plain.cv_results_["params"])
    assert list(stepped.cv_results_["mean_test_score"]) == list(plain.cv_results_["mean_test_score"])
    assert stepped.best_index_ == plain.best_index_
    assert seen == sorted(seen) and len(seen) > 2 and 0 < seen[0] < seen[-1] == 30
