"""The model registry: versions in SQL, model files in an artifact store.

A version becomes visible only when its metadata row is written, and that
happens after every file it names is completely stored, so a crash at any
point leaves either a whole version or none.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tabserve.errors import ConflictError, IntegrityError, NoModelError
from tabserve.registry.artifacts import ArtifactStore, open_artifact_store
from tabserve.registry.records import PRODUCTION, AliasMove, JobRecord, VersionRecord
from tabserve.registry.serialization import sha256_hex

if TYPE_CHECKING:  # MetadataStore brings SQLAlchemy: imported when a registry is opened with it
    from tabserve.config import Settings
    from tabserve.config_promotion import PromotionSettings
    from tabserve.registry.metadata import MetadataStore
    from tabserve.registry.sqlite_direct import DirectSqliteMetadata

log = logging.getLogger(__name__)
# Files a version keeps beside its model, checked when served rather than when the model loads.
PICTURE_KINDS = frozenset({"pairplot", "confusion_matrix", "predicted_vs_actual", "residual_distribution"})

__all__ = [
    "PRODUCTION",
    "AliasMove",
    "JobRecord",
    "ModelStore",
    "StoredFile",
    "VersionRecord",
    "open_registry",
]


@dataclass(frozen=True)
class StoredFile:
    """A file to store with a version: its kind (model, onnx) and bytes."""

    kind: str
    filename: str
    data: bytes


class ModelStore:
    """Versions of named models: register, find, load files, move aliases.

    The storage behind ``tabserve.Registry`` (the notebook's registry, api.py), which opens one
    with ``open_registry`` on first use; ``Registry`` is only ever that public class.
    """

    def __init__(
        self,
        metadata: MetadataStore | DirectSqliteMetadata,
        artifacts: ArtifactStore,
        trusted_types: tuple[str, ...] = (),
        gates: PromotionSettings | None = None,
    ) -> None:
        self.metadata = metadata
        self.artifacts = artifacts
        self.trusted_types = trusted_types  # this side's config: what its model files may hold
        self.gates = gates  # this side's config: what an alias move must pass (None: the defaults)

    @classmethod
    def open(
        cls,
        url: str,
        artifacts: str,
        s3_endpoint_url: str | None = None,
        trusted_types: tuple[str, ...] = (),
        quick: bool = False,
    ) -> ModelStore:
        """``quick``: only versions and aliases will be used (a CLI command that must start fast).

        A SQLite registry at the current schema is then read without SQLAlchemy
        (sqlite_direct.py); registering, jobs and every other database still
        need the full MetadataStore.
        """
        metadata: MetadataStore | DirectSqliteMetadata | None = None
        if quick:
            from tabserve.registry.sqlite_direct import open_direct

            metadata = open_direct(url)
        if metadata is None:
            from tabserve.registry.metadata import MetadataStore

            metadata = MetadataStore(url)
        return cls(metadata, open_artifact_store(artifacts, s3_endpoint_url), trusted_types)

    def close(self) -> None:
        self.metadata.close()

    def __enter__(self) -> ModelStore:
        return self

    def __exit__(self, *exc: object) -> None:
        """``with ModelStore.open(...) as registry:`` closes the engine even when the body raises."""
        self.close()

    def register(self, model: str, files: list[StoredFile], fields: dict[str, Any]) -> int:
        """Store the files, then write the metadata row that makes the version visible."""
        folder = f"{model}/{uuid.uuid4().hex}"
        stored: dict[str, dict[str, str]] = {}
        try:
            for item in files:
                key = f"{folder}/{item.filename}"
                self.artifacts.put(key, item.data)
                stored[item.kind] = {"key": key, "sha256": sha256_hex(item.data)}
            version = self.metadata.add_version(
                model, {**fields, "artifacts": stored, "sha256": stored["model"]["sha256"]}
            )
        except BaseException:
            for entry in stored.values():
                try:
                    self.artifacts.delete(entry["key"])
                except Exception:  # best effort: the version was never visible
                    log.warning("could not remove orphaned artifact %s", entry["key"])
            raise
        log.info("registered %s version %d", model, version)
        return version

    def read_file(self, record: VersionRecord, kind: str = "model") -> bytes:
        """A version's file, after checking its sha256 against the metadata.

        The error names the version and the file, not where it is stored: it may
        reach an unauthenticated 503. The log has the location.
        """
        entry = record.artifacts.get(kind)
        what = f"model '{record.model}' version {record.version}"
        if entry is None:
            raise IntegrityError(f"{what} has no {kind} file")
        filename = entry["key"].rsplit("/", 1)[-1]
        try:
            data = self.artifacts.get(entry["key"])
        except IntegrityError as exc:  # the store knows the key, not which version it belongs to
            log.error("%s: %s", what, exc)
            raise IntegrityError(f"{what}: its {kind} file ({filename}) is missing") from None
        if sha256_hex(data) != entry["sha256"]:
            log.error(
                "%s: %s does not match its recorded sha256", what, self.artifacts.describe(entry["key"])
            )
            raise IntegrityError(
                f"{what}: its {kind} file ({filename}) failed its checksum; refusing to load it"
            )
        return data

    def verify(self, record: VersionRecord) -> None:
        """Check every model file of a version against its recorded sha256 (IntegrityError names the
        first bad one).

        A numeric model is served from one file but stored with others; a damaged
        file must stop a load or a promotion even if this server would not read it.
        Pictures are not the model: they are checked when one is served, so a
        damaged picture costs that picture, not the version.
        """
        for kind in record.artifacts:
            if kind not in PICTURE_KINDS:
                self.read_file(record, kind)

    def load_model(self, record: VersionRecord) -> Any:
        """The fitted scikit-learn pipeline of a version, checked and safely deserialised."""
        kinds = [kind for kind in ("model", "booster") if kind in record.artifacts]
        files = {kind: self.read_file(record, kind) for kind in kinds}
        return model_from_files(record, files, self.trusted_types)

    def serving_version(self, model: str) -> int:
        """The version a server should load: the production alias, else the newest."""
        version = self.metadata.alias_version(model, PRODUCTION)
        if version is None:
            version = self.metadata.latest_version(model)
        if version is None:
            raise NoModelError(f"model '{model}' has no versions yet")  # callers say how to train one
        return version

    def get(self, model: str, version: int) -> VersionRecord:
        return self.metadata.get_version(model, version)

    def versions(self, model: str) -> list[VersionRecord]:
        return self.metadata.list_versions(model)

    def promote(
        self,
        model: str,
        version: int,
        *,
        checked: bool = False,
        alias: str = PRODUCTION,
        actor: str = "unknown",
        reason: str = "",
        forced: bool = False,
    ) -> None:
        """Point ``alias`` at a version whose every file passes its checksum (ConflictError if one
        fails), recording who moved it, why and whether a gate was overridden.

        ``tabserve.promotion`` runs the gates and the smoke prediction first, then calls this with
        ``checked`` (its files were read and checked on the way, or just written)."""
        if not checked:
            try:
                self.verify(self.get(model, version))
            except IntegrityError as exc:
                raise ConflictError(f"{exc}; not promoted") from None
        self.metadata.set_alias(model, version, alias, actor=actor, reason=reason, forced=forced)
        log.info("%s version %d is now %s (%s)", model, version, alias, actor)

    def rollback_target(self, model: str) -> int:
        """The version a rollback would give production back to (ConflictError when there is none)."""
        return self.metadata.rollback_target(model, PRODUCTION)

    def rollback(
        self,
        model: str,
        *,
        checked_target: int | None = None,
        actor: str = "unknown",
        reason: str = "",
        forced: bool = False,
    ) -> int:
        """Give production back to the version it had before, if every file of it passes its checksum;
        recorded like a promotion. ``checked_target``: the target ``tabserve.promotion`` already
        proved; the alias moves only if it is still the target."""
        target = checked_target if checked_target is not None else self.rollback_target(model)
        if checked_target is None:
            try:
                self.verify(self.get(model, target))
            except IntegrityError as exc:
                raise ConflictError(f"{exc}; not rolled back") from None
        version = self.metadata.rollback_alias(
            model, PRODUCTION, expected=target, actor=actor, reason=reason, forced=forced
        )
        log.info("%s rolled back: %s is version %d (%s)", model, PRODUCTION, version, actor)
        return version

    def history(
        self, model: str, *, limit: int = 50, before: int | None = None, alias: str | None = None
    ) -> list[AliasMove]:
        """The alias moves of ``model`` (one ``alias`` or all), newest first, older than move ``before``."""
        return self.metadata.alias_history(model, alias=alias, limit=limit, before=before)


def open_registry(settings: Settings, *, existing: bool = False) -> ModelStore:
    """The registry the settings name: the one way the CLI, the server, jobs and the Python API open it.

    ``existing``: for commands that only read or move aliases. A SQLite registry
    that is not there is an error naming the URL, not a new empty database, and
    one that is there is read without SQLAlchemy (start-up time).
    """
    config = settings.registry
    if existing:
        missing = _missing_sqlite_file(config.url)
        if missing is not None:
            raise NoModelError(
                f"no registry at {config.url} ({missing} does not exist): "
                "train a model first with `tabserve train`, or give the config that names the registry"
            )
    store = ModelStore.open(
        config.url, config.artifacts, config.s3_endpoint_url, tuple(config.trusted_types), quick=existing
    )
    store.gates = settings.promotion
    return store


def _missing_sqlite_file(url: str) -> Path | None:
    """The file a ``sqlite:///`` URL names if it does not exist, else None (any other URL: None)."""
    from tabserve.registry.sqlite_direct import plain_sqlite_path

    plain = plain_sqlite_path(url)
    if plain is not None:
        return None if plain.exists() else plain
    if not url.startswith("sqlite"):
        return None
    import sqlalchemy as sa  # an in-memory database or one with options: SQLAlchemy's parser decides

    parsed = sa.make_url(url)
    if not parsed.drivername.startswith("sqlite") or parsed.database in (None, "", ":memory:"):
        return None
    path = Path(parsed.database)
    return None if path.exists() else path


def model_from_files(record: VersionRecord, files: dict[str, bytes], trusted_types: tuple[str, ...]) -> Any:
    """A version's fitted pipeline from its checked files: the skops model file, and for an XGBoost
    or LightGBM estimator its booster put back from the booster file (boosters.py)."""
    from tabserve.registry.boosters import BOOSTER_KIND, BoosterFile, attach, library_of_file
    from tabserve.registry.serialization import load_model

    label = f"model '{record.model}' version {record.version}"
    model = load_model(files["model"], label, trusted_types)
    booster = None
    if BOOSTER_KIND in record.artifacts:
        library = library_of_file(record.artifacts[BOOSTER_KIND]["key"].rsplit("/", 1)[-1])
        if library is None:
            raise IntegrityError(f"{label}: its booster file is of no known library")
        booster = BoosterFile(library, files[BOOSTER_KIND])
    return attach(model, booster, label)
