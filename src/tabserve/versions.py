"""Library versions a model version records, to explain drift at load time."""

from __future__ import annotations

import platform
from importlib import metadata

TRACKED = ("tabserve", "scikit-learn", "numpy", "pandas", "scipy", "skops", "onnxruntime", "skl2onnx")


def library_versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in TRACKED:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found
