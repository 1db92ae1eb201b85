"""Pictures of the data and of a model: the seed's pairplot, a confusion matrix, a regressor's hold-out."""

from __future__ import annotations

import io
import logging
from typing import Any

import pandas as pd

from tabserve.errors import DataError

log = logging.getLogger(__name__)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # no display on servers
    import matplotlib.pyplot as plt

    return plt


def pairplot_png(frame: pd.DataFrame, target: str, colour: bool = True) -> bytes:
    """Seaborn pairplot of every numeric column, coloured by the target (a label), as PNG bytes.

    ``colour`` False: a numeric target is drawn as one more column instead of a colour per value.
    """
    import seaborn as sns

    plt = _pyplot()
    numeric = [c for c in frame.columns if c != target and pd.api.types.is_numeric_dtype(frame[c])]
    if not numeric:
        raise DataError("data: the table has no numeric columns to draw a pairplot of")
    if colour:
        grid = sns.pairplot(frame[[*numeric, target]], hue=target, height=2.0)
    else:
        grid = sns.pairplot(frame[[*numeric, target]], height=2.0)
    buffer = io.BytesIO()
    grid.figure.savefig(buffer, format="png", dpi=80)
    plt.close(grid.figure)
    return buffer.getvalue()


def data_pairplot_png(features: pd.DataFrame, target: pd.Series, colour: bool = True) -> bytes | None:
    """The pairplot of a training table (features and labels), or None when it has no numeric column.

    ``colour`` False (a regression target): the target is one more numeric axis.
    """
    name = str(target.name) if target.name is not None else "target"
    values = target.astype(str).to_numpy() if colour else target.astype(float).to_numpy()
    frame = features.assign(**{name: values})
    try:
        return pairplot_png(frame, name, colour)
    except DataError as exc:
        log.info("no pairplot stored: %s", exc)
        return None


def confusion_matrix_png(labels: list[str], matrix: list[list[int]], title: str) -> bytes:
    """A labelled heatmap of a confusion matrix (rows: true, columns: predicted)."""
    import seaborn as sns

    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(4.5, 4))
    sns.heatmap(
        pd.DataFrame(matrix, index=labels, columns=labels),
        annot=True,
        fmt="d",
        cbar=False,
        cmap="Blues",
        ax=axes,
    )
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    axes.set_title(title)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=80)
    plt.close(figure)
    return buffer.getvalue()


def _png(figure: Any) -> bytes:
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=80)
    _pyplot().close(figure)
    return buffer.getvalue()


def predicted_vs_actual_png(actual: list[float], predicted: list[float], title: str) -> bytes:
    """Hold-out predictions against the true values, with the diagonal a perfect model would follow."""
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(4.5, 4))
    axes.scatter(actual, predicted, s=12, alpha=0.6)
    low, high = min(min(actual), min(predicted)), max(max(actual), max(predicted))
    axes.plot([low, high], [low, high], color="grey", linewidth=1, linestyle="--")
    axes.set_xlabel("actual")
    axes.set_ylabel("predicted")
    axes.set_title(title)
    return _png(figure)


def residuals_png(residuals: list[float], title: str) -> bytes:
    """The distribution of hold-out residuals (actual minus predicted)."""
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(4.5, 4))
    axes.hist(residuals, bins=min(30, max(5, len(residuals) // 5)), color="#4c72b0")
    axes.axvline(0, color="grey", linewidth=1, linestyle="--")
    axes.set_xlabel("residual (actual - predicted)")
    axes.set_ylabel("rows")
    axes.set_title(title)
    return _png(figure)
