"""Model files: skops, never pickle, with the loadable types fixed by this code.

skops lists the types a file would construct; we load only if every one of
them passes ``is_trusted_type``, a rule written here plus the loading side's
``registry.trusted_types``, never read from the file.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
from typing import Any

from tabserve.errors import IntegrityError, UntrustedTypesError
from tabserve.registry.boosters import BOOSTED_WRAPPERS
from tabserve.trusted_types import how_to_trust, is_listed

# Non-scikit-learn types a fitted pipeline legitimately contains.
TRUSTED_HELPER_TYPES = frozenset(
    {
        "builtins.bytes",
        "builtins.slice",
        "builtins.type",
        "collections.OrderedDict",
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


def is_trusted_type(name: str, extra: tuple[str, ...] = ()) -> bool:
    """A fixed helper type, a class (not a function) defined inside scikit-learn, or listed in ``extra``.

    XGBoost and LightGBM wrappers are trusted only as stored by boosters.py, with no booster
    inside: their ``Booster`` classes are not trusted, so a file holding one is refused.
    """
    if name in TRUSTED_HELPER_TYPES or name in BOOSTED_WRAPPERS or is_listed(name, extra):
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


def listed_types(data: bytes, label: str) -> list[str]:
    """The types a skops file would construct beyond skops's own safe set."""
    import skops.io

    try:
        return sorted(skops.io.get_untrusted_types(data=data))
    except Exception as exc:
        raise IntegrityError(f"{label}: not a readable skops model file ({exc})") from None


def check_types(data: bytes, label: str, extra: tuple[str, ...] = ()) -> list[str]:
    """The file's types if every one is trusted; else UntrustedTypesError naming them and the fix."""
    found = listed_types(data, label)
    refused = [t for t in found if not is_trusted_type(t, extra)]
    if refused:
        raise UntrustedTypesError(
            f"{label}: the model file holds types outside tabserve's trusted set: "
            f"{', '.join(refused)}; {how_to_trust(refused)}",
            refused,
        )
    return found


def load_model(data: bytes, label: str, extra_trusted: tuple[str, ...] = ()) -> Any:
    """Rebuild a model from skops bytes, refusing any type outside the fixed rule and ``extra_trusted``."""
    import skops.io

    found = check_types(data, label, extra_trusted)
    try:
        return skops.io.loads(data, trusted=found)
    except Exception as exc:
        raise IntegrityError(f"{label}: cannot load model file ({exc})") from None
