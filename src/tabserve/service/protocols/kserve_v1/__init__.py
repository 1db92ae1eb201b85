"""KServe V1: model status and ``:predict``."""
