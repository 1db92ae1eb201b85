"""A user's own transformer, as a notebook would import it from its project: not trusted by default."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin


class LogShift(TransformerMixin, BaseEstimator):
    """log(x + shift), column by column."""

    def __init__(self, shift: float = 1.0) -> None:
        self.shift = shift

    def fit(self, X, y=None):
        self.n_features_in_ = np.asarray(X).shape[1]
        return self

    def transform(self, X):
        return np.log(np.asarray(X, dtype=np.float64) + self.shift)
