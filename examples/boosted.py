"""A boosted model from a notebook: XGBoost fitted on encoded labels, served in the table's own labels.

Run it as a script (`.venv/bin/python examples/boosted.py`, with `pip install 'tabserve[boost]'`)
or paste the cells into a notebook. It registers into the registry the CLI uses in the current
directory (./var by default, or TABSERVE_CONFIG).
"""

# %% Load the table, split it, encode the labels as XGBoost wants them (0, 1, ...)
from pathlib import Path

import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import LabelEncoder, OneHotEncoder
from xgboost import XGBClassifier

import tabserve

table = pd.read_csv(Path(__file__).with_name("customers.csv"))
X = table.drop(columns="churned")
encoder = LabelEncoder().fit(table["churned"])
y = encoder.transform(table["churned"])
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, stratify=y, random_state=0)

# %% XGBoost after a ColumnTransformer; it takes missing numbers as they are
prep = ColumnTransformer(
    [
        ("numbers", "passthrough", ["tenure_months", "monthly_fee", "support_tickets"]),
        ("categories", OneHotEncoder(handle_unknown="ignore"), ["plan", "region"]),
    ]
)
model = Pipeline([("prep", prep), ("xgb", XGBClassifier(n_estimators=60, max_depth=3, random_state=0))])
model.fit(X_train, y_train)

# %% Register it: classes= names the encoded labels, so every answer says "no" or "yes"
registered = tabserve.register(
    model,
    name="churn-xgboost",
    X_sample=X_train.head(50),
    X_test=X_test,
    y_test=y_test,
    classes=encoder.classes_,
)
print(f"churn-xgboost version {registered.version}, production: {registered.promoted}")
print(f"hold-out accuracy {registered.metrics['accuracy']:.4f}")
print(f"classes: {registered.metrics['confusion_matrix']['labels']}")
