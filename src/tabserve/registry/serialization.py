"""Model files: skops, never pickle, with the loadable types fixed by this code.

skops lists the types a file would construct; we load only if every one of
them passes ``is_trusted_type``, a rule written here, not read from the file.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
from typing import Any

from tabserve.errors import IntegrityError

# Non-scikit-learn types a fitted pipeline legitimately contains.
TRUSTED_HELPER_TYPES = frozenset(
    {
        "builtins.bytes",
        "builtins.slice",
        "builtins.type",
        "numpy.dtype",
        "numpy.ndarray",
        "numpy.random.RandomState",
        "numpy.random._mt19937._rand_mt19937",
        "numpy.random._pickle.__randomstate_ctor",
        "numpy.random.mtrand.RandomState",
        "numpy.float64",
        "numpy.int64",
        "numpy.str_",
        "numpy.bool_",
        "numpy.float32",
        "numpy.int32",
        "numpy.object_",
        "numpy.core.multiarray._reconstruct",
        "numpy._core.multiarray._reconstruct",
        "scipy.sparse._csr.csr_matrix",
        "scipy.sparse._csr.csr_array",
        "sklearn.tree._tree.Tree",
    }
)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def is_trusted_type(name: str) -> bool:
    """A fixed helper type, or a class (not a function) defined inside scikit-learn."""
    if name in TRUSTED_HELPER_TYPES:
        return True
    if not name.startswith("sklearn."):
        return False
    module_name, _, attribute = name.rpartition(".")
    try:
        found = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError):
        return False
    return inspect.isclass(found)


def dump_model(model: Any) -> bytes:
    import skops.io

    return skops.io.dumps(model)


def load_model(data: bytes, label: str) -> Any:
    """Rebuild a model from skops bytes, refusing any type outside the fixed rule."""
    import skops.io

    try:
        found = skops.io.get_untrusted_types(data=data)
    except Exception as exc:
        raise IntegrityError(f"{label}: not a readable skops model file ({exc})") from None
    refused = sorted(t for t in found if not is_trusted_type(t))
    if refused:
        raise IntegrityError(f"{label}: model file asks to load untrusted types: {', '.join(refused)}")
    try:
        return skops.io.loads(data, trusted=found)
    except Exception as exc:
        raise IntegrityError(f"{label}: cannot load model file ({exc})") from None
