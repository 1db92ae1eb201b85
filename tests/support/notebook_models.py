"""Models fitted the way a notebook fits them, shared by the register tests."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier, VotingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from tests.support.custom_transformers import LogShift


def customers(rows: int = 240, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    """A small mixed table: two numeric columns, one categorical, a three-class label."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "age": rng.integers(18, 80, rows),
            "spend": rng.gamma(2.0, 50.0, rows).round(2),
            "plan": rng.choice(["basic", "plus", "pro"], rows),
        }
    )
    score = frame["spend"] / 100 + (frame["plan"] == "pro") * 1.5 - (frame["age"] > 60) * 0.8
    label = np.where(score > 2.0, "keep", np.where(score > 0.9, "watch", "leave"))
    return frame, pd.Series(label, name="churn")


def mixed_pipeline(x: pd.DataFrame, y: pd.Series) -> Pipeline:
    """ColumnTransformer, then a soft vote of a HistGradientBoosting and a RandomForest."""
    prep = ColumnTransformer(
        [
            ("numbers", StandardScaler(), ["age", "spend"]),
            ("plan", OneHotEncoder(handle_unknown="ignore"), ["plan"]),
        ]
    )
    vote = VotingClassifier(
        [
            ("hgb", HistGradientBoostingClassifier(max_iter=30, random_state=0)),
            ("forest", RandomForestClassifier(n_estimators=20, random_state=0)),
        ],
        voting="soft",
    )
    return Pipeline([("prep", prep), ("vote", vote)]).fit(x, y)


def custom_pipeline(x: pd.DataFrame, y: pd.Series) -> Pipeline:
    """A pipeline holding the user's own LogShift class."""
    return make_pipeline(LogShift(), LogisticRegression(max_iter=500)).fit(x, y)
