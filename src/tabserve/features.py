"""Preprocessing chosen from column types.

Numeric columns are median-imputed and scaled; everything else is treated as
categorical: most-frequent imputed and one-hot encoded, ignoring categories
never seen in training so a new value at predict time is not an error.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from tabserve.schema import Feature, FeatureSchema


def is_numeric_column(column: pd.Series) -> bool:
    """Numbers are numeric; booleans, strings and categories are not."""
    return pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)


def infer_schema(features: pd.DataFrame, target: pd.Series, task: str = "classification") -> FeatureSchema:
    """Record each column's kind (and categories), the task and (classification) the class labels."""
    described = []
    for name in features.columns:
        column = features[name]
        if is_numeric_column(column):
            described.append(Feature(str(name), "numeric"))
        else:
            categories = sorted({str(v) for v in column.dropna().unique()})
            described.append(Feature(str(name), "categorical", categories))
    classes = [] if task == "regression" else sorted(str(c) for c in target.unique())
    return FeatureSchema(described, str(target.name), classes, task)


def coerce_frame(frame: pd.DataFrame, schema: FeatureSchema) -> pd.DataFrame:
    """Give every column the dtype its kind expects: float, or object strings with NaN for missing.

    Training and prediction both go through this, so a category read as 1 from
    a CSV and sent as "1" in JSON is the same category.
    """
    out = {}
    for feature in schema.features:
        column = frame[feature.name]
        if feature.type == "numeric":
            out[feature.name] = pd.to_numeric(column, errors="raise").astype(np.float64)
        else:
            out[feature.name] = categorical_column(column.tolist(), index=frame.index)
    return pd.DataFrame(out, index=frame.index)


def categorical_column(values: list, index: pd.Index | None = None) -> pd.Series:
    """Object dtype, strings for values and NaN for missing, whatever pandas would infer."""
    return pd.Series([np.nan if pd.isna(v) else str(v) for v in values], dtype=object, index=index)


def build_preprocessor(schema: FeatureSchema) -> ColumnTransformer:
    """A ColumnTransformer that prepares each column for its kind."""
    numeric = [f.name for f in schema.features if f.type == "numeric"]
    categorical = [f.name for f in schema.features if f.type == "categorical"]
    transformers = []
    if numeric:
        numeric_steps = Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())])
        transformers.append(("numeric", numeric_steps, numeric))
    if categorical:
        categorical_steps = Pipeline(
            [
                ("impute", SimpleImputer(strategy="most_frequent")),
                ("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
            ]
        )
        transformers.append(("categorical", categorical_steps, categorical))
    return ColumnTransformer(transformers, remainder="drop", verbose_feature_names_out=False)
