"""tabserve: a scikit-learn notebook turned into a versioned, served model."""

__version__ = "0.1.0"
