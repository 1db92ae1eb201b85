"""XGBoost and LightGBM models stored without pickle: the booster in its library's own format.

skops could write a fitted ``XGBClassifier`` whole, but only by rebuilding the
library's ``Booster`` from a memory snapshot through its ``__setstate__``; the
libraries document their own model formats (XGBoost JSON, LightGBM text) as
the ones that load across versions. So a boosted model is stored as two files:

- the skops model file holds the pipeline (or the bare estimator) with the
  boosted estimator's ``_Booster`` taken out: the wrapper's parameters and
  fitted attributes only, plain data the trusted-type check covers;
- the booster file holds the trees, written by ``save_raw("json")`` or
  ``model_to_string()``, and is read back by the library's model parser.

Both are stored with the version and checked against their sha256 before
loading; nothing in either file names code to run. ``attach`` re-attaches the
booster after the skops file is loaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tabserve.errors import IntegrityError

BOOSTER_KIND = "booster"
# The file a booster is written to, by library: the extension says the format.
BOOSTER_FILES = {"xgboost": "booster.json", "lightgbm": "booster.txt"}
# The wrapper classes whose skops form (booster taken out) tabserve loads: plain data attributes.
BOOSTED_WRAPPERS = frozenset(
    {
        "xgboost.sklearn.XGBClassifier",
        "xgboost.sklearn.XGBRegressor",
        "lightgbm.sklearn.LGBMClassifier",
        "lightgbm.sklearn.LGBMRegressor",
    }
)
_BOOSTER_ATTRIBUTE = "_Booster"  # where both libraries' scikit-learn wrappers keep the fitted booster


@dataclass(frozen=True)
class BoosterFile:
    """A booster in its library's own format."""

    library: str  # "xgboost" or "lightgbm"
    data: bytes

    @property
    def filename(self) -> str:
        return BOOSTER_FILES[self.library]


def final_estimator(model: Any) -> Any:
    """The estimator that answers: the last step of a Pipeline, or the model itself."""
    steps = getattr(model, "steps", None)
    return steps[-1][1] if steps else model


def library_of(estimator: Any) -> str | None:
    """ "xgboost" or "lightgbm" for one of their scikit-learn wrappers, else None."""
    cls = type(estimator)
    dotted = f"{cls.__module__}.{cls.__name__}"
    # Exact classes only: a user's subclass is stored by skops whole, and refused unless trusted.
    return dotted.split(".")[0] if dotted in BOOSTED_WRAPPERS else None


def split_booster(model: Any) -> tuple[Any, BoosterFile | None]:
    """``model`` with its booster taken out, and the booster in its own format; (model, None) if the
    model is not boosted. ``model`` itself is left untouched (shallow copies are changed)."""
    estimator = final_estimator(model)
    library = library_of(estimator)
    booster = getattr(estimator, _BOOSTER_ATTRIBUTE, None) if library else None
    if library is None or booster is None:
        return model, None
    if library == "xgboost":
        data = bytes(booster.save_raw("json"))
    else:
        data = booster.model_to_string(num_iteration=-1).encode()  # every tree, not only the best ones
    shell = _copy_without(estimator, _BOOSTER_ATTRIBUTE)
    if estimator is model:
        return shell, BoosterFile(library, data)
    pipeline = _copy_without(model)
    pipeline.steps = [*model.steps[:-1], (model.steps[-1][0], shell)]
    return pipeline, BoosterFile(library, data)


def needs_booster(model: Any) -> str | None:
    """The library whose booster a just-loaded model lacks, or None if it lacks nothing."""
    estimator = final_estimator(model)
    library = library_of(estimator)
    if library is not None and getattr(estimator, _BOOSTER_ATTRIBUTE, None) is None:
        return library
    return None


def attach(model: Any, booster: BoosterFile | None, label: str) -> Any:
    """Give a loaded model back the booster stored beside it; IntegrityError when they do not fit."""
    library = needs_booster(model)
    if booster is None:
        if library is not None:
            raise IntegrityError(f"{label}: the {library} model has no booster file")
        return model
    if library != booster.library:
        raise IntegrityError(f"{label}: a {booster.library} booster file does not fit the model file")
    try:
        if library == "xgboost":
            import xgboost

            parsed = xgboost.Booster()
            parsed.load_model(bytearray(booster.data))
        else:
            import lightgbm

            parsed = lightgbm.Booster(model_str=booster.data.decode())
            # The text holds every tree; predictions stop where early stopping found the best.
            parsed.best_iteration = int(getattr(final_estimator(model), "_best_iteration", 0) or 0)
    except ImportError:
        raise IntegrityError(
            f"{label}: needs {library}, which is not installed here (pip install 'tabserve[boost]')"
        ) from None
    except Exception as exc:  # the library's parser: any kind of failure means an unreadable file
        raise IntegrityError(f"{label}: cannot read its {library} booster ({type(exc).__name__})") from None
    setattr(final_estimator(model), _BOOSTER_ATTRIBUTE, parsed)
    return model


def library_of_file(filename: str) -> str | None:
    """The library a stored booster file belongs to, from its name."""
    for library, name in BOOSTER_FILES.items():
        if filename == name:
            return library
    return None


def _copy_without(obj: Any, *dropped: str) -> Any:
    """A shallow copy made without calling the class's code (no __init__, no __getstate__)."""
    copy = object.__new__(type(obj))
    copy.__dict__.update({k: v for k, v in vars(obj).items() if k not in dropped})
    return copy
