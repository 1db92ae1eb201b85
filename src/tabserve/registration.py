"""A fitted model made into a registry version: the one door every version comes through.

`tabserve train` (a model tabserve fitted) and `tabserve.register` / `tabserve
register` (a model fitted elsewhere) both store through ``store_version``, so
a version records the same files and fields (sample rows included), is compiled
with the same parity check, is promoted by the same rule (promotion.py), and
looks the same in the CLI, over HTTP and in the console, whichever way it came in.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from tabserve.compiled import CompileResult, compile_pipeline
from tabserve.extras import can_draw, missing
from tabserve.registry import ModelStore, StoredFile
from tabserve.registry.boosters import BOOSTER_KIND, BoosterFile, library_of, split_booster
from tabserve.registry.serialization import check_types, dump_model
from tabserve.smoke import SAMPLE_FILE, sample_bytes
from tabserve.training import TrainedModel
from tabserve.versions import library_versions

log = logging.getLogger(__name__)

MODEL_FILE = "model.skops"
COMPILED_FILE = "compiled.npz"
PROFILE_FILE = "profile.json"
# Pictures drawn when a version is stored, so that a serving-only install can show them.
PICTURE_FILES = {
    "pairplot": "pairplot.png",
    "confusion_matrix": "confusion_matrix.png",
    "predicted_vs_actual": "predicted_vs_actual.png",
    "residual_distribution": "residual_distribution.png",
}
# A regressor's absolute hold-out residuals: what its prediction intervals are made of.
RESIDUALS_FILE = "residuals.json"


@dataclass(frozen=True)
class Written:
    """A version just stored: its number, how it is served, and its files by kind as written."""

    version: int
    serving: str
    files: dict[str, bytes]


@dataclass(frozen=True)
class Stored:
    """What storing a version did: its number, whether it is production now, how it is served."""

    model: str
    version: int
    promoted: bool
    serving: str
    promotion: str = ""  # why it is production now, or why not


def compile_for_serving(trained: TrainedModel) -> CompileResult:
    """The ONNX fast path when the pipeline has tabserve's numeric shape and passes the parity check."""
    if trained.schema.is_regression:
        return CompileResult(None, "regressors are served by scikit-learn")
    if not hasattr(trained.pipeline, "predict_proba"):
        return CompileResult(None, "estimator has no predict_proba: labels served by scikit-learn")
    if missing(("skl2onnx",)):
        return CompileResult(None, "not compiled: skl2onnx is not installed here (tabserve[train])")
    named = getattr(trained.pipeline, "named_steps", None)
    bare_booster = library_of(trained.pipeline) is not None
    if trained.schema.all_numeric and not bare_booster and (named is None or {"prep", "clf"} - set(named)):
        return CompileResult(None, "pipeline is not tabserve's prep + clf shape: served by scikit-learn")
    try:
        result = compile_pipeline(trained.pipeline, trained.schema, trained.reference_rows)
    except (KeyError, AttributeError):  # a look-alike of the shape, built differently
        result = CompileResult(None, "preprocessing is not the plain numeric shape")
    log.info("serving fast path: %s", result.reason)
    return result


def store_version(
    registry: ModelStore,
    model: str,
    trained: TrainedModel,
    config: dict[str, Any],
    *,
    model_bytes: bytes | None = None,
    booster: BoosterFile | None = None,
    compiled: CompileResult | None = None,
    pictures: bool = True,
) -> Written:
    """Store the model file (checked against the registry's trusted types), its sample rows and its
    record; the version, how it is served and the files as written. ``model_bytes`` (with its
    ``booster``) and ``compiled`` are given when they already exist (an import); else an XGBoost or
    LightGBM booster is split off into its own file. ``pictures``: draw the confusion matrix if the
    version has none yet and this install can draw."""
    label = f"model '{model}'"
    if model_bytes is None:
        shell, booster = split_booster(trained.pipeline)
        model_bytes = dump_model(shell)
    check_types(model_bytes, label, registry.trusted_types)
    files = [StoredFile("model", MODEL_FILE, model_bytes)]
    if booster is not None:
        files.append(StoredFile(BOOSTER_KIND, booster.filename, booster.data))
    if compiled is None:
        compiled = compile_for_serving(trained)
    if compiled.bundle is not None:
        files.append(StoredFile("compiled", COMPILED_FILE, compiled.bundle))
    if trained.sample_rows is not None:
        files.append(
            StoredFile("sample", SAMPLE_FILE, sample_bytes(trained.sample_rows, trained.schema.names))
        )
    if trained.profile is not None:
        files.append(StoredFile("profile", PROFILE_FILE, json.dumps(trained.profile).encode()))
    if trained.residuals is not None:
        residuals = [float(v) for v in trained.residuals]
        files.append(StoredFile("residuals", RESIDUALS_FILE, json.dumps(residuals).encode()))
    for kind, png in _pictures(model, trained, pictures).items():
        files.append(StoredFile(kind, PICTURE_FILES[kind], png))
    fields = {
        "estimator": trained.estimator,
        "params": trained.params,
        "metrics": {
            **trained.metrics,
            "serving": compiled.reason,
            "outputs": model_outputs(trained.pipeline, trained),
        },
        "cv_results": trained.cv_results,
        "feature_schema": trained.schema.to_dict(),
        "data_rows": trained.data_rows,
        "data_hash": trained.data_hash,
        "libraries": trained.libraries or library_versions(),
        "config": config,
    }
    version = registry.register(model, files, fields)
    return Written(version, compiled.reason, {item.kind: item.data for item in files})


def model_outputs(model: Any, trained: TrainedModel | None = None) -> list[str]:
    """What a fitted model answers: a regressor values (and intervals when it keeps hold-out
    residuals); a classifier labels, and probabilities when it has ``predict_proba``."""
    if trained is not None and trained.schema.is_regression:
        return ["values", "intervals"] if trained.residuals is not None else ["values"]
    return ["labels", "probabilities"] if hasattr(model, "predict_proba") else ["labels"]


def _pictures(model: str, trained: TrainedModel, draw: bool) -> dict[str, bytes]:
    """The version's PNGs: those it came with, plus its confusion matrix drawn now when asked for."""
    found = {kind: png for kind, png in trained.pictures.items() if kind in PICTURE_FILES}
    matrix = trained.metrics.get("confusion_matrix")
    if draw and "confusion_matrix" not in found and matrix and can_draw():
        from tabserve.plots import confusion_matrix_png

        found["confusion_matrix"] = confusion_matrix_png(
            matrix["labels"], matrix["matrix"], f"{model} hold-out"
        )
    return found
