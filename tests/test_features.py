import numpy as np
import pandas as pd

from tabserve.features import build_preprocessor, coerce_frame, infer_schema


def _frame():
    return pd.DataFrame(
        {
            "age": [30.0, np.nan, 45.0, 22.0],
            "plan": ["basic", "pro", None, "basic"],
            "active": [True, False, True, True],
        }
    )


def test_schema_records_kinds_categories_and_classes():
    schema = infer_schema(_frame(), pd.Series(["n", "y", "n", "y"], name="churn"))
    kinds = {f.name: (f.type, f.categories) for f in schema.features}
    assert kinds == {
        "age": ("numeric", None),
        "plan": ("categorical", ["basic", "pro"]),
        "active": ("categorical", ["False", "True"]),
    }
    assert schema.target == "churn" and schema.classes == ["n", "y"]


def test_preprocessor_imputes_scales_and_ignores_unknown_categories():
    frame = _frame()
    schema = infer_schema(frame, pd.Series(["n", "y", "n", "y"], name="churn"))
    prep = build_preprocessor(schema).fit(coerce_frame(frame, schema))
    unseen = pd.DataFrame({"age": [np.nan], "plan": ["enterprise"], "active": [None]})
    out = prep.transform(coerce_frame(unseen, schema))
    names = list(prep.get_feature_names_out())
    assert names == ["age", "plan_basic", "plan_pro", "active_False", "active_True"]
    row = dict(zip(names, out[0], strict=True))
    assert row["plan_basic"] == 0 and row["plan_pro"] == 0  # unknown category: all zeros
    assert row["active_True"] == 1  # missing: the most frequent value
    assert np.isfinite(row["age"])


def test_coerce_makes_categories_strings_and_keeps_the_index():
    frame = pd.DataFrame({"code": pd.Series([1, 2, None], dtype=object, index=[10, 11, 12])})
    schema = infer_schema(frame, pd.Series(["a", "b", "a"], name="y"))
    coerced = coerce_frame(frame, schema)
    assert list(coerced.index) == [10, 11, 12]
    assert coerced["code"].iloc[0] == "1"
    assert pd.isna(coerced["code"].iloc[2])
