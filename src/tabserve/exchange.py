"""A version as a folder: exported from one registry, registered into another.

The folder holds the model file, the compiled bundle and its bare ONNX graph
(if the version has them), the drift profile, the feature schema and every
metadata field, with each file's sha256 in ``version.json``. Import checks
every hash, re-checks the model's types against the *importing* registry's
trusted set and loads it once before storing anything, so a tampered or
untrusted folder never becomes a version.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from tabserve.errors import DataError, IntegrityError
from tabserve.promotion import settle
from tabserve.registration import (
    COMPILED_FILE,
    MODEL_FILE,
    PICTURE_FILES,
    PROFILE_FILE,
    RESIDUALS_FILE,
    Stored,
    store_version,
)
from tabserve.registry import ModelStore
from tabserve.registry.boosters import BOOSTER_FILES, BOOSTER_KIND, BoosterFile, attach, library_of_file
from tabserve.registry.records import DESCRIBING_FIELDS
from tabserve.registry.serialization import sha256_hex
from tabserve.smoke import SAMPLE_FILE

log = logging.getLogger(__name__)

FORMAT = 1
VERSION_FILE = "version.json"
SCHEMA_FILE = "schema.json"
ONNX_FILE = "model.onnx"
_FILES = {
    "model": MODEL_FILE,
    "compiled": COMPILED_FILE,
    "profile": PROFILE_FILE,
    "sample": SAMPLE_FILE,
    "residuals": RESIDUALS_FILE,
    **PICTURE_FILES,
}


def export_version(registry: ModelStore, model: str, version: int, folder: str | Path) -> list[str]:
    """Write one version into ``folder`` (new or empty), all files or none; the names written."""
    folder = Path(folder)
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise DataError(f"export: {folder} exists and is not an empty folder; choose a new one")
    record = registry.get(model, version)
    files: dict[str, bytes] = {}
    listed: dict[str, dict[str, str]] = {}
    for kind, name in _files_of(record.artifacts).items():
        files[name] = registry.read_file(record, kind)  # checked against its sha256
        listed[kind] = {"file": name, "sha256": sha256_hex(files[name])}
    if "compiled" in listed:
        from tabserve.compiled_runtime import Bundle

        files[ONNX_FILE] = Bundle.read(files[COMPILED_FILE]).onnx  # for other ONNX runtimes; not re-read
    files[SCHEMA_FILE] = _json(record.feature_schema)
    files[VERSION_FILE] = _json(
        {
            "format": FORMAT,
            "model": record.model,
            "version": record.version,
            "created_at": record.created_at,
            **{name: getattr(record, name) for name in DESCRIBING_FIELDS},
            "files": listed,
        }
    )
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        for name, data in files.items():
            (staging / name).write_bytes(data)
        if folder.exists():
            folder.rmdir()
        os.replace(staging, folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    log.info("exported %s version %d to %s", model, version, folder)
    return sorted(files)


def _files_of(artifacts: dict[str, Any]) -> dict[str, str]:
    """The files a version has, by kind: the fixed names, and its booster file under its own name."""
    found = {kind: name for kind, name in _FILES.items() if kind in artifacts}
    if BOOSTER_KIND in artifacts:
        found[BOOSTER_KIND] = artifacts[BOOSTER_KIND]["key"].rsplit("/", 1)[-1]
    return found


def _expected_file(kind: str, entry: Any) -> bool:
    if not isinstance(entry, dict):
        return False
    if kind == BOOSTER_KIND:
        return entry.get("file") in BOOSTER_FILES.values()
    return kind in _FILES and entry.get("file") == _FILES[kind]


def _json(value: Any) -> bytes:
    return (json.dumps(value, indent=2, sort_keys=True) + "\n").encode()


def read_export(folder: str | Path) -> tuple[dict[str, Any], dict[str, bytes]]:
    """The metadata and the files of an exported version, every hash checked."""
    folder = Path(folder)
    try:
        meta = json.loads((folder / VERSION_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(
            f"register: {folder} has no {VERSION_FILE}; is it a `tabserve models export` folder?"
        ) from None
    except (OSError, ValueError) as exc:
        raise DataError(f"register: {folder / VERSION_FILE} is not readable JSON ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise DataError(f"register: {folder / VERSION_FILE} is not an export of format {FORMAT}")
    missing = [name for name in (*DESCRIBING_FIELDS, "files") if name not in meta]
    if missing or "model" not in meta.get("files", {}):
        raise DataError(f"register: {folder / VERSION_FILE} lacks {', '.join(missing) or 'files.model'}")
    files: dict[str, bytes] = {}
    for kind, entry in meta["files"].items():
        if not _expected_file(kind, entry):
            raise DataError(f"register: {folder / VERSION_FILE}: unexpected file entry '{kind}'")
        try:
            data = (folder / entry["file"]).read_bytes()
        except OSError:
            raise DataError(f"register: {folder} lacks {entry['file']} named in {VERSION_FILE}") from None
        if sha256_hex(data) != entry.get("sha256"):
            raise IntegrityError(
                f"register: {entry['file']} in {folder} does not match its sha256 in {VERSION_FILE}; "
                "refusing to import it"
            )
        files[kind] = data
    return meta, files


def import_version(
    registry: ModelStore, folder: str | Path, *, name: str | None, promote: bool | None, auto_promote: bool
) -> Stored:
    """Register an exported folder as the next version of ``name`` (default: the exported model's name)."""
    from tabserve.compiled import CompileResult
    from tabserve.predictor import SklearnRunner
    from tabserve.registry.serialization import load_model
    from tabserve.schema import FeatureSchema
    from tabserve.training import TrainedModel

    meta, files = read_export(folder)
    name = name or meta["model"]
    try:
        schema = FeatureSchema.from_dict(meta["feature_schema"])
    except (KeyError, TypeError) as exc:
        raise DataError(
            f"register: {Path(folder) / VERSION_FILE}: feature_schema is malformed ({exc})"
        ) from None
    label = f"model '{name}' from {folder}"
    booster = None
    if BOOSTER_KIND in files:
        library = library_of_file(meta["files"][BOOSTER_KIND]["file"])
        booster = BoosterFile(library or "", files[BOOSTER_KIND])
    pipeline = attach(load_model(files["model"], label, registry.trusted_types), booster, label)
    try:
        SklearnRunner(pipeline, schema)  # the model and its schema agree on the classes
    except ValueError as exc:
        raise IntegrityError(f"{label}: {exc}") from None
    metrics = dict(meta["metrics"])
    reason = metrics.pop("serving", "served by scikit-learn")
    bundle = files.get("compiled")
    if bundle is not None:
        from tabserve.compiled_runtime import CompiledRunner

        CompiledRunner(bundle)  # readable by this tabserve, or refused before anything is stored
    profile = json.loads(files["profile"]) if "profile" in files else None
    residuals = np.asarray(json.loads(files["residuals"]), dtype=np.float64) if "residuals" in files else None
    trained = TrainedModel(
        pipeline=pipeline,
        schema=schema,
        estimator=meta["estimator"],
        params=meta["params"],
        cv_score=metrics.get("cv_score"),
        metrics=metrics,
        cv_results=meta["cv_results"],
        data_rows=meta["data_rows"],
        data_hash=meta["data_hash"],
        libraries=meta["libraries"],
        profile=profile,
        pictures={kind: files[kind] for kind in PICTURE_FILES if kind in files},
        sample_rows=_sample_frame(files.get("sample"), schema),
        residuals=residuals,
    )
    config = {**meta["config"], "imported": {"model": meta["model"], "version": meta["version"]}}
    written = store_version(
        registry,
        name,
        trained,
        config,
        model_bytes=files["model"],
        booster=booster,
        compiled=CompileResult(bundle, reason),
    )
    settled = settle(
        registry,
        name,
        written.version,
        metrics.get("holdout_score"),
        promote_now=promote,
        auto_promote=auto_promote,
        files=written.files,
        actor="import",
    )
    return Stored(name, written.version, settled.promoted, written.serving, settled.why)


def _sample_frame(data: bytes | None, schema: Any) -> Any:
    """The exported sample rows as a frame in feature order (None for an export made without them)."""
    if data is None:
        return None
    import pandas as pd

    try:
        rows = json.loads(data)
        return pd.DataFrame(rows, columns=schema.names) if rows else None
    except (ValueError, TypeError):
        raise DataError(f"register: {SAMPLE_FILE} does not hold rows of the model's features") from None
