"""From a notebook to a served model: fit your own pipeline, then hand it to tabserve.

Run it as a script (`.venv/bin/python examples/notebook.py`) or paste the cells
into a notebook. It registers into the registry the CLI uses in the current
directory (./var by default, or TABSERVE_CONFIG); `tabserve serve --model
churn-notebook` then serves it.
"""

# %% Load the table and split it, as in any notebook
from pathlib import Path

import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder

import tabserve

table = pd.read_csv(Path(__file__).with_name("customers.csv"))
X = table.drop(columns="churned")
y = table["churned"]
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, stratify=y, random_state=0)

# %% Your own feature engineering and model
numbers = ["tenure_months", "monthly_fee", "support_tickets"]
categories = ["plan", "region"]
prep = ColumnTransformer(
    [
        ("numbers", SimpleImputer(strategy="median"), numbers),
        (
            "categories",
            make_pipeline(SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore")),
            categories,
        ),
    ]
)
model = Pipeline([("prep", prep), ("boost", HistGradientBoostingClassifier(max_iter=60, random_state=0))])
model.fit(X_train, y_train)

# %% Register it: schema from the sample, metrics from the hold-out, stored as the next version
registered = tabserve.register(
    model,
    name="churn-notebook",
    X_sample=X_train.head(50),
    X_test=X_test,
    y_test=y_test,
    data_rows=len(X_train),
    description="HistGradientBoosting on imputed, one-hot encoded columns",
)
print(f"churn-notebook version {registered.version}, production: {registered.promoted}")
print(
    f"hold-out accuracy {registered.metrics['accuracy']:.4f}, macro F1 {registered.metrics['f1_macro']:.4f}"
)

# %% The registry, from Python: list, inspect, load back
registry = tabserve.Registry()
print([v["version"] for v in registry.versions("churn-notebook")])
reloaded = registry.load("churn-notebook", registered.version)
assert (reloaded.predict_proba(X_test) == model.predict_proba(X_test)).all()
registry.close()
