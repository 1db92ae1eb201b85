"""Training data: load a table from iris, CSV or SQL, and take the stratified hold-out.

A regression target is held out by fraction, stratified on quantile bins of the
target so the hold-out spans its range (``binned_split``).

Every load records its row count and a content hash, so a model version says
exactly which rows it saw.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from tabserve.config import DataSettings, SplitSettings
from tabserve.errors import DataError
from tabserve.urls import redact_text

log = logging.getLogger(__name__)

IRIS_COLUMNS = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
IRIS_TARGET = "species"


@dataclass(frozen=True)
class Dataset:
    """Feature frame and labels, with the provenance a version records."""

    features: pd.DataFrame
    target: pd.Series
    rows: int
    content_hash: str
    source: str


def load_iris_frame() -> pd.DataFrame:
    """Fisher's iris from scikit-learn's bundled copy, with the seed's column names."""
    from sklearn.datasets import load_iris

    bunch = load_iris()
    frame = pd.DataFrame(bunch.data, columns=IRIS_COLUMNS)
    frame[IRIS_TARGET] = np.asarray(bunch.target_names)[bunch.target]
    return frame


def read_csv(path: str) -> pd.DataFrame:
    """Read a CSV file or http(s) URL.

    A failure names the key, not the path or what the reader saw: a job's error
    is shown over HTTP, and a parser's message can quote the file (the log has
    the path, credentials masked).
    """
    try:
        return pd.read_csv(path)
    except FileNotFoundError:
        log.error("data.path: %s does not exist", redact_text(path))
        raise DataError("data.path: the configured CSV file does not exist (the log names it)") from None
    except Exception as exc:  # pandas raises many kinds for unreadable input
        log.error("data.path: cannot read %s as CSV: %s", redact_text(path), type(exc).__name__)
        raise DataError(
            f"data.path: the configured source is not a readable CSV ({type(exc).__name__})"
        ) from None


def read_frame(settings: DataSettings) -> pd.DataFrame:
    """Load the whole table named by the data settings."""
    if settings.source == "iris":
        return load_iris_frame()
    if settings.source == "csv":
        assert settings.path is not None  # enforced by DataSettings
        return read_csv(settings.path)
    from tabserve.sql import read_sql_frame

    assert settings.url is not None
    return read_sql_frame(settings.url, table=settings.table, query=settings.query)


def content_hash(frame: pd.DataFrame) -> str:
    """A sha256 over column names and values, stable across loads of the same rows."""
    digest = hashlib.sha256()
    digest.update("\x1f".join(map(str, frame.columns)).encode())
    row_hashes = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    digest.update(row_hashes.tobytes())
    return digest.hexdigest()


def check_target(frame: pd.DataFrame, target: str) -> None:
    """The one check (and message) that the configured target is a column of the table."""
    columns = [str(c) for c in frame.columns]
    if target not in columns:
        # The header is the file's content (a request may read the answer): counted, never listed.
        raise DataError(
            f"data.target: column '{target}' is not in the table (the table has {len(columns)} column(s))"
        )


def select_columns(
    frame: pd.DataFrame, settings: DataSettings, as_text: bool = True
) -> tuple[pd.DataFrame, pd.Series]:
    """Split a table into features and target, naming any column that is not there.

    ``as_text``: labels as strings (classification); False keeps the target's own dtype,
    which decides the task and is the regression target.
    """
    columns = [str(c) for c in frame.columns]
    frame.columns = columns
    # Only names the config gave are repeated back: the table's own header is its content.
    available = f"the table has {len(columns)} column(s)"
    check_target(frame, settings.target)
    if settings.features is None:
        features = [c for c in columns if c != settings.target]
    else:
        missing = [c for c in settings.features if c not in columns]
        if missing:
            names = ", ".join(f"'{c}'" for c in missing)
            raise DataError(f"data.features: {names} not in the table ({available})")
        if settings.target in settings.features:
            raise DataError(f"data.features: the target '{settings.target}' cannot be a feature")
        features = list(settings.features)
    if not features:
        raise DataError("data.features: the table has no columns besides the target")
    target = frame[settings.target]
    if target.isna().any():
        count = int(target.isna().sum())
        raise DataError(f"data.target: column '{settings.target}' has {count} missing labels")
    return frame[features].copy(), target.astype(str) if as_text else target


def load_dataset(settings: DataSettings) -> Dataset:
    """Load, check and fingerprint the training table; the target keeps its dtype (it decides the task)."""
    frame = read_frame(settings)
    if frame.empty:
        raise DataError(f"data: the {settings.source} source returned no rows")
    features, target = select_columns(frame, settings, as_text=False)
    # Hashed as text, as it always was, so the same rows keep the same hash.
    digest = content_hash(pd.concat([features, target.astype(str)], axis=1))
    log.info("loaded %d rows x %d features from %s", len(frame), features.shape[1], settings.source)
    return Dataset(features, target, len(frame), digest, settings.source)


def stratified_split(
    features: pd.DataFrame, target: pd.Series, settings: SplitSettings
) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series, pd.Series]:
    """Hold out ``test_per_class`` rows of every class, or a stratified fraction; seeded."""
    from sklearn.model_selection import train_test_split

    counts = target.value_counts()
    if settings.test_per_class is not None:
        too_small = counts[counts <= settings.test_per_class]
        if not too_small.empty:
            # Class labels are cell values: counted, never named.
            raise DataError(
                f"split.test_per_class: {settings.test_per_class} rows per class leaves no training rows "
                f"for {len(too_small)} class(es) (the smallest has {int(too_small.min())} rows)"
            )
        rng = np.random.default_rng(settings.random_state)
        positions = np.arange(len(target))
        labels = target.to_numpy()
        test_positions = np.concatenate(
            [
                rng.choice(positions[labels == label], settings.test_per_class, replace=False)
                for label in sorted(counts.index)
            ]
        )
        is_test = np.zeros(len(target), dtype=bool)
        is_test[test_positions] = True
        return features[~is_test], features[is_test], target[~is_test], target[is_test]
    if (counts < 2).any():
        lonely = int((counts < 2).sum())
        raise DataError(f"split.test_fraction: {lonely} class(es) have a single row; each needs 2 or more")
    try:
        x_train, x_test, y_train, y_test = train_test_split(
            features,
            target,
            test_size=settings.test_fraction,
            stratify=target,
            random_state=settings.random_state,
        )
    except ValueError as exc:
        raise DataError(f"split.test_fraction: {exc}") from None
    return x_train, x_test, y_train, y_test


MAX_TARGET_BINS = 10


def binned_split(
    features: pd.DataFrame, target: pd.Series, settings: SplitSettings
) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series, pd.Series]:
    """Hold out ``test_fraction`` of the rows of a numeric target, seeded, stratified on its quantile bins."""
    from sklearn.model_selection import train_test_split

    assert settings.test_fraction is not None  # config.regression_split gives one
    values = target.to_numpy(dtype=np.float64)
    if not np.isfinite(values).all():
        raise DataError(f"data.target: column '{target.name}' has values that are not finite numbers")
    rows = len(values)
    test_rows = int(np.ceil(rows * settings.test_fraction))
    if test_rows < 2 or rows - test_rows < 2:
        raise DataError(
            f"split.test_fraction: {settings.test_fraction} of {rows} rows leaves too few rows "
            "to train or to test"
        )
    # As many bins as both sides can hold one row of each, at most ten.
    bins = min(MAX_TARGET_BINS, test_rows, rows - test_rows, rows // 2)
    stratify = None
    if bins >= 2:
        codes = pd.qcut(values, bins, labels=False, duplicates="drop")
        if int(pd.Series(codes).value_counts().min()) >= 2:
            stratify = codes
    x_train, x_test, y_train, y_test = train_test_split(
        features,
        target,
        test_size=settings.test_fraction,
        stratify=stratify,
        random_state=settings.random_state,
    )
    return x_train, x_test, y_train, y_test
