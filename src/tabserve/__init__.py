"""tabserve: a scikit-learn notebook turned into a versioned, served model.

``tabserve.register`` and ``tabserve.Registry`` are imported on first use, so
``import tabserve`` stays cheap and starts nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["RegisteredVersion", "Registry", "UntrustedTypesError", "register"]

if TYPE_CHECKING:
    from tabserve.api import RegisteredVersion, Registry, register
    from tabserve.errors import UntrustedTypesError


def __getattr__(name: str) -> Any:
    if name in ("Registry", "RegisteredVersion", "register"):
        from tabserve import api

        return getattr(api, name)
    if name == "UntrustedTypesError":
        from tabserve.errors import UntrustedTypesError

        return UntrustedTypesError
    raise AttributeError(f"module 'tabserve' has no attribute {name!r}")
