"""From settings to a fitted, evaluated model: candidates, grid search, hold-out metrics.

Size: the search runs the same way for both tasks (classification, regression);
only the split, the folds and the hold-out metrics differ, and fit_search shows
those differences side by side rather than in two copies of the search.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, is_classifier, is_regressor
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    get_scorer,
    precision_recall_fscore_support,
)
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.model_selection._search import BaseSearchCV
from sklearn.pipeline import Pipeline

from tabserve.config import Candidate, Settings, regression_split
from tabserve.data import Dataset, binned_split, load_dataset, stratified_split
from tabserve.errors import ConfigError, DataError
from tabserve.features import build_preprocessor, coerce_frame, infer_schema
from tabserve.monitoring.profile import build_profile
from tabserve.regression import candidates_for, evaluate_values, holdout_pictures, scoring_for
from tabserve.schema import FeatureSchema
from tabserve.search import build_search, to_distribution
from tabserve.task import CLASSIFICATION, REGRESSION, resolve_task

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
"""Called with (fits done, fits in total) as the grid search advances."""


@dataclass
class TrainedModel:
    """Everything a registry version is made of, before it is stored."""

    pipeline: Pipeline
    schema: FeatureSchema
    estimator: str
    params: dict[str, Any]
    cv_score: float | None  # None for a model fitted outside tabserve: no grid search ran here
    metrics: dict[str, Any]
    cv_results: list[dict[str, Any]]
    data_rows: int
    data_hash: str
    reference_rows: np.ndarray | None = None  # numeric rows seen, to check a compiled model against
    profile: dict[str, Any] | None = None  # training rows' bins and hold-out class mix, for drift
    libraries: dict[str, str] | None = None  # None: this process's versions
    pictures: dict[str, bytes] = field(default_factory=dict)  # PNGs by artifact kind, e.g. "pairplot"
    sample_rows: pd.DataFrame | None = None  # a few input rows the version must answer before it serves
    residuals: np.ndarray | None = None  # regression: absolute hold-out residuals, for intervals


def resolve_estimator(path: str, index: int, task: str | None = CLASSIFICATION) -> type[BaseEstimator]:
    """Import a dotted path from an allowed package and check it suits ``task`` (None: either)."""
    where = f"candidates.{index}.estimator"
    module_name, _, class_name = path.rpartition(".")
    try:
        module = importlib.import_module(module_name)
        found = getattr(module, class_name)
    except (ImportError, AttributeError) as exc:
        if isinstance(exc, ImportError) and exc.name in ("xgboost", "lightgbm"):
            raise ConfigError(f"{where}: '{path}' needs {exc.name}: pip install 'tabserve[boost]'") from None
        raise ConfigError(f"{where}: '{path}' does not name an importable class") from None
    if not inspect.isclass(found) or not issubclass(found, BaseEstimator):
        raise ConfigError(f"{where}: '{path}' is not a scikit-learn estimator class")
    try:
        instance = found()
    except TypeError:
        raise ConfigError(f"{where}: '{path}' needs constructor arguments; give a plain class") from None
    if task == REGRESSION and not is_regressor(instance):
        kind = "a classifier" if is_classifier(instance) else "not a regressor"
        raise ConfigError(f"{where}: '{path}' is {kind}, but task is regression")
    if task == CLASSIFICATION and not is_classifier(instance):
        kind = "a regressor" if is_regressor(instance) else "not a classifier"
        raise ConfigError(f"{where}: '{path}' is {kind}, but task is classification")
    if task is None and not (is_classifier(instance) or is_regressor(instance)):
        raise ConfigError(f"{where}: '{path}' is neither a classifier nor a regressor")
    return found


def build_param_grid(
    candidates: list[Candidate], random_state: int, task: str | None = CLASSIFICATION
) -> list[dict[str, list]]:
    """One grid entry per candidate, switching the pipeline's ``clf`` step (the final estimator's name
    for regressors too, so every version has the same shape)."""
    grid = []
    for index, candidate in enumerate(candidates):
        estimator_class = resolve_estimator(candidate.estimator, index, task)
        instance = estimator_class()
        valid = instance.get_params()
        unknown = sorted(set(candidate.grid) - set(valid))
        if unknown:
            raise ConfigError(
                f"candidates.{index}.grid: {', '.join(unknown)} not parameters of "
                f"{estimator_class.__name__} (valid: {', '.join(sorted(valid))})"
            )
        empty = [name for name, values in candidate.grid.items() if not values]
        if empty:
            raise ConfigError(f"candidates.{index}.grid: {', '.join(empty)} has no values")
        if "random_state" in valid and "random_state" not in candidate.grid:
            instance.set_params(random_state=random_state)
        if estimator_class.__module__.startswith("lightgbm.") and "verbose" not in candidate.grid:
            instance.set_params(verbose=-1)  # LightGBM prints every fit's notes to stdout otherwise
        entry: dict[str, list] = {"clf": [instance]}
        entry.update({f"clf__{name}": to_distribution(values) for name, values in candidate.grid.items()})
        grid.append(entry)
    kinds = {is_regressor(entry["clf"][0]) for entry in grid}
    if task is None and len(kinds) > 1:
        raise ConfigError("candidates: mixes classifiers and regressors; a model is trained for one task")
    return grid


def dotted_name(estimator: BaseEstimator) -> str:
    """The public dotted name of the estimator's class: ``xgboost.XGBClassifier`` as a config names it."""
    cls = type(estimator)
    root = importlib.import_module(cls.__module__.split(".")[0])
    public = root.__name__ if getattr(root, cls.__name__, None) is cls else cls.__module__.split("._")[0]
    return f"{public}.{cls.__name__}"


def evaluate_labels(y_test: Any, predicted: Any, classes: list[str]) -> dict:
    """Hold-out accuracy, macro F1, per-class precision and recall and the confusion matrix of labels
    already predicted (strings, like ``classes``)."""
    precision, recall, _, support = precision_recall_fscore_support(
        y_test, predicted, labels=classes, zero_division=0
    )
    return {
        "accuracy": float(accuracy_score(y_test, predicted)),
        "f1_macro": float(f1_score(y_test, predicted, average="macro", zero_division=0)),
        "per_class": {
            label: {"precision": float(p), "recall": float(r), "support": int(s)}
            for label, p, r, s in zip(classes, precision, recall, support, strict=True)
        },
        "confusion_matrix": {
            "labels": classes,
            "matrix": confusion_matrix(y_test, predicted, labels=classes).tolist(),
        },
        "holdout_rows": len(y_test),
    }


def _plain(value: Any) -> Any:
    """Make a CV param JSON-safe: estimators become their dotted names."""
    if isinstance(value, BaseEstimator):
        return dotted_name(value)
    if isinstance(value, np.generic):
        return value.item()
    return value


def cv_table(search: BaseSearchCV) -> list[dict[str, Any]]:
    results = search.cv_results_
    rows = []
    for i, params in enumerate(results["params"]):
        rows.append(
            {
                "estimator": dotted_name(params["clf"]),
                "params": {k.removeprefix("clf__"): _plain(v) for k, v in params.items() if k != "clf"},
                "mean_test_score": float(results["mean_test_score"][i]),
                "std_test_score": float(results["std_test_score"][i]),
                "rank_test_score": int(results["rank_test_score"][i]),
                "mean_fit_time": float(results["mean_fit_time"][i]),
            }
        )
        if "iter" in results:  # successive halving: the rung, and the training rows it was given
            rows[-1]["rung"] = int(results["iter"][i])
            rows[-1]["n_resources"] = int(results["n_resources"][i])
    return rows


def fit_search(
    settings: Settings,
    dataset: Dataset,
    progress: Progress | None = None,
    param_grid: list[dict[str, list]] | None = None,
) -> TrainedModel:
    """Decide the task, split, grid-search and evaluate on an already loaded dataset (``param_grid``:
    the one ``train`` built before loading the data when the task was known; else built here)."""
    choice = resolve_task(settings.task, dataset.target)
    log.info("task: %s (%s)", choice.task, choice.reason)
    regression = choice.task == REGRESSION
    if param_grid is None:
        param_grid = build_param_grid(
            candidates_for(settings, choice.task), settings.split.random_state, choice.task
        )
    scoring = scoring_for(settings, choice.task)
    try:
        get_scorer(scoring)
    except ValueError:
        raise ConfigError(f"search.scoring: '{scoring}' is not a scikit-learn scorer name") from None
    target = dataset.target.astype(np.float64) if regression else dataset.target.astype(str)
    schema = infer_schema(dataset.features, target, choice.task)
    if not regression and len(schema.classes) < 2:
        raise DataError(f"data.target: '{schema.target}' has a single class; need two or more")
    frame = coerce_frame(dataset.features, schema)
    if regression:
        x_train, x_test, y_train, y_test = binned_split(frame, target, regression_split(settings.split))
        if len(y_train) < settings.search.cv:
            raise DataError(f"search.cv: {settings.search.cv} folds need {settings.search.cv} training rows")
        folds: Any = KFold(settings.search.cv, shuffle=True, random_state=settings.split.random_state)
        y_fit, y_check = y_train, y_test
    else:
        x_train, x_test, y_train, y_test = stratified_split(frame, target, settings.split)
        # XGBoost classifiers take only labels 0..k-1: every candidate is fitted on codes then, and the
        # version's schema maps them back, so answers keep the data's labels.
        encode = any(dotted_name(entry["clf"][0]).startswith("xgboost.") for entry in param_grid)
        codes = {name: index for index, name in enumerate(schema.classes)}
        if encode:
            schema = replace(schema, model_classes=[str(i) for i in range(len(schema.classes))])
        y_fit, y_check = (y_train.map(codes), y_test.map(codes)) if encode else (y_train, y_test)
        smallest = int(y_train.value_counts().min())
        if smallest < settings.search.cv:
            raise DataError(
                f"search.cv: {settings.search.cv} folds need at least {settings.search.cv} training "
                f"rows per class; the smallest class has {smallest}"
            )
        folds = StratifiedKFold(settings.search.cv, shuffle=True, random_state=settings.split.random_state)
    pipeline = Pipeline([("prep", build_preprocessor(schema)), ("clf", param_grid[0]["clf"][0])])
    search, total = build_search(
        settings.search, pipeline, param_grid, folds, scoring, settings.split.random_state, progress
    )
    if progress is not None:
        progress(0, total)
    with _search_backend(settings):
        search.fit(x_train, y_fit)
    if progress is not None:
        progress(total, total)
    best = search.best_estimator_
    answered = best.predict(x_test)
    if regression:
        predicted = answered
        metrics = evaluate_values(y_test, predicted)
        residuals: np.ndarray | None = np.abs(y_test.to_numpy(dtype=np.float64) - predicted)
        draw = settings.registry.pictures
        pictures = holdout_pictures(y_test, predicted, f"{settings.model} hold-out") if draw else {}
    else:
        predicted = schema.names_of(answered)
        metrics = evaluate_labels(y_test, predicted, schema.classes)
        residuals, pictures = None, {}
    metrics["holdout_score"] = float(search.score(x_test, y_check))
    metrics["scoring"] = scoring
    metrics["cv_score"] = float(search.best_score_)
    metrics["search_strategy"] = settings.search.strategy
    metrics["task"] = choice.task
    metrics["task_reason"] = choice.reason
    best_params = {k.removeprefix("clf__"): _plain(v) for k, v in search.best_params_.items() if k != "clf"}
    estimator = dotted_name(best.named_steps["clf"])
    log.info(
        "best %s %s cv=%.4f holdout=%.4f",
        estimator,
        best_params,
        search.best_score_,
        metrics["holdout_score"],
    )
    return TrainedModel(
        pipeline=best,
        schema=schema,
        estimator=estimator,
        params=best_params,
        cv_score=float(search.best_score_),
        metrics=metrics,
        cv_results=cv_table(search),
        data_rows=dataset.rows,
        data_hash=dataset.content_hash,
        reference_rows=frame.to_numpy(dtype=np.float64) if schema.all_numeric else None,
        profile=build_profile(
            x_train, schema, [] if regression else predicted, predicted if regression else None
        ),
        sample_rows=x_test.head(5),
        residuals=residuals,
        pictures=pictures,
    )


@contextlib.contextmanager
def _search_backend(settings: Settings) -> Iterator[None]:
    """Run the fits locally, or on a Dask cluster through joblib's dask backend."""
    if settings.search.backend == "local":
        from tabserve.lifetime import workers_die_with_this_process

        with workers_die_with_this_process():
            yield
        return
    from tabserve.dask_backend import dask_parallel

    with dask_parallel(settings.search.dask_address or ""):
        yield


def train(settings: Settings, progress: Progress | None = None) -> TrainedModel:
    """Check the candidates, load the data, then search: config errors come before any work."""
    # With the task known, the grid is built (and its candidates checked) before the data is read;
    # with task auto, once the target has decided the task. Either way it is built once.
    known = None if settings.task == "auto" else settings.task
    param_grid = None
    if known:
        param_grid = build_param_grid(candidates_for(settings, known), settings.split.random_state, known)
    dataset = load_dataset(settings.data)
    trained = fit_search(settings, dataset, progress, param_grid)
    if settings.registry.pictures:  # drawn here, where the data is, and stored with the version
        from tabserve.plots import data_pairplot_png

        hue = None if trained.schema.task == REGRESSION else dataset.target
        pairplot = data_pairplot_png(dataset.features, dataset.target, colour=hue is not None)
        if pairplot is not None:
            trained = replace(trained, pictures={**trained.pictures, "pairplot": pairplot})
    return trained
