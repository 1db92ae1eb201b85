"""Pictures of the data and of a model: the training data's pairplot, a confusion matrix."""

from __future__ import annotations

import io
import logging

import pandas as pd

from tabserve.errors import DataError

log = logging.getLogger(__name__)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # no display on servers
    import matplotlib.pyplot as plt

    return plt


def pairplot_png(frame: pd.DataFrame, target: str) -> bytes:
    """Seaborn pairplot of every numeric column, coloured by the target, as PNG bytes."""
    import seaborn as sns

    plt = _pyplot()
    numeric = [c for c in frame.columns if c != target and pd.api.types.is_numeric_dtype(frame[c])]
    if not numeric:
        raise DataError("data: the table has no numeric columns to draw a pairplot of")
    grid = sns.pairplot(frame[[*numeric, target]], hue=target, height=2.0)
    buffer = io.BytesIO()
    grid.figure.savefig(buffer, format="png", dpi=80)
    plt.close(grid.figure)
    return buffer.getvalue()


def data_pairplot_png(features: pd.DataFrame, target: pd.Series) -> bytes | None:
    """The pairplot of a training table (features and labels), or None when it has no numeric column."""
    name = str(target.name) if target.name is not None else "target"
    frame = features.assign(**{name: target.astype(str).to_numpy()})
    try:
        return pairplot_png(frame, name)
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
