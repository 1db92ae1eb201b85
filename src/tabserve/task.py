"""Which task a table asks for: classification or regression, decided from its target column.

``task: auto`` looks at the target's type: text, booleans and categories are
labels (classification); floating-point numbers are quantities (regression);
integers are labels only when they take few distinct values: at most
``MAX_INTEGER_CLASSES`` (20) and at most ``MAX_CLASS_SHARE`` (5 %) of the rows,
or two values at most (0/1 flags); otherwise they are counts or amounts to
predict (regression). An explicit task wins, except that text or booleans
cannot be regressed on: that is a config error naming ``task``.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from tabserve.errors import ConfigError

CLASSIFICATION = "classification"
REGRESSION = "regression"
MAX_INTEGER_CLASSES = 20
MAX_CLASS_SHARE = 0.05


@dataclass(frozen=True)
class TaskChoice:
    """The task a model is trained for and why (the log and the version record both say)."""

    task: str
    reason: str


def _kind(target: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(target):
        return "boolean"
    if pd.api.types.is_integer_dtype(target):
        return "integer"
    if pd.api.types.is_float_dtype(target):
        return "float"
    if isinstance(target.dtype, pd.CategoricalDtype):
        return "categorical"
    return "text"


def infer_task(target: pd.Series) -> TaskChoice:
    """The ``auto`` rule (see the module docstring), with its reason in words (no cell values)."""
    kind = _kind(target)
    name = f"target '{target.name}'"
    if kind in ("boolean", "categorical", "text"):
        return TaskChoice(CLASSIFICATION, f"auto: {name} holds {kind} values")
    if kind == "float":
        return TaskChoice(REGRESSION, f"auto: {name} holds floating-point numbers")
    distinct = int(target.nunique())
    few = distinct <= 2 or (distinct <= MAX_INTEGER_CLASSES and distinct <= MAX_CLASS_SHARE * len(target))
    if few:
        return TaskChoice(
            CLASSIFICATION,
            f"auto: {name} holds integers with {distinct} distinct values in {len(target)} rows "
            f"(at most {MAX_INTEGER_CLASSES} and {MAX_CLASS_SHARE:.0%} of the rows: labels)",
        )
    return TaskChoice(
        REGRESSION,
        f"auto: {name} holds integers with {distinct} distinct values in {len(target)} rows "
        f"(more than {MAX_INTEGER_CLASSES} or {MAX_CLASS_SHARE:.0%} of the rows: quantities)",
    )


def resolve_task(setting: str, target: pd.Series) -> TaskChoice:
    """The configured task checked against the target, or the ``auto`` decision."""
    if setting == "auto":
        return infer_task(target)
    kind = _kind(target)
    if setting == REGRESSION and kind in ("boolean", "categorical", "text"):
        raise ConfigError(
            f"task: regression needs a numeric target, but target '{target.name}' holds {kind} values "
            "(use task: classification or auto)"
        )
    return TaskChoice(setting, f"configured: task: {setting}")
