"""Binning shared by the training profile and the live drift window (numpy only: serving stays lean)."""

from __future__ import annotations

from typing import Any

import numpy as np


def numeric_bins(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Each value's bin (0..len(edges)); NaN goes to the extra last bin, len(edges) + 1.

    Training and serving both bin through here, so a value on an edge lands in
    the same bin on both sides.
    """
    bins = np.searchsorted(edges, values, side="right")
    bins[np.isnan(values)] = len(edges) + 1
    return bins


def category_bins(values: Any, categories: list[str]) -> np.ndarray:
    """Each value's position in ``categories``; unseen values are ``len``, missing ``len + 1``."""
    array = np.asarray(values, dtype=object)
    missing = np.equal(array, None) | np.not_equal(array, array)  # None or NaN, without pandas
    known = np.asarray(categories, dtype=str)
    order = np.argsort(known, kind="stable")
    ordered = known[order]
    text = np.where(missing, "", array).astype(str)
    if len(ordered):
        found_at = np.minimum(np.searchsorted(ordered, text), len(ordered) - 1)
        hit = ordered[found_at] == text
        bins = np.where(hit, order[found_at], len(categories))
    else:
        bins = np.full(len(text), len(categories))
    bins[missing] = len(categories) + 1
    return bins
