"""The model registry: versions in SQL, model files in an artifact store.

A version becomes visible only when its metadata row is written, and that
happens after every file it names is completely stored, so a crash at any
point leaves either a whole version or none.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tabserve.errors import ConflictError, IntegrityError, NoModelError
from tabserve.registry.artifacts import ArtifactStore, open_artifact_store
from tabserve.registry.records import PRODUCTION, JobRecord, VersionRecord
from tabserve.registry.serialization import sha256_hex

if TYPE_CHECKING:  # MetadataStore brings SQLAlchemy: imported when a registry is opened with it
    from tabserve.config import RegistrySettings
    from tabserve.registry.metadata import MetadataStore
    from tabserve.registry.sqlite_direct import DirectSqliteMetadata

log = logging.getLogger(__name__)

__all__ = ["PRODUCTION", "JobRecord", "Registry", "StoredFile", "VersionRecord"]


@dataclass(frozen=True)
class StoredFile:
    """A file to store with a version: its kind (model, onnx) and bytes."""

    kind: str
    filename: str
    data: bytes


class Registry:
    """Versions of named models: register, find, load files, move aliases."""

    def __init__(
        self,
        metadata: MetadataStore | DirectSqliteMetadata,
        artifacts: ArtifactStore,
        trusted_types: tuple[str, ...] = (),
    ) -> None:
        self.metadata = metadata
        self.artifacts = artifacts
        self.trusted_types = trusted_types  # this side's config: what its model files may hold

    @classmethod
    def open(
        cls,
        url: str,
        artifacts: str,
        s3_endpoint_url: str | None = None,
        trusted_types: tuple[str, ...] = (),
        quick: bool = False,
    ) -> Registry:
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

    @classmethod
    def from_settings(cls, settings: RegistrySettings, quick: bool = False) -> Registry:
        """The registry named by the ``registry`` config section."""
        return cls.open(
            settings.url,
            settings.artifacts,
            settings.s3_endpoint_url,
            tuple(settings.trusted_types),
            quick=quick,
        )

    def close(self) -> None:
        self.metadata.close()

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, *exc: object) -> None:
        """``with Registry.open(...) as registry:`` closes the engine even when the body raises."""
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
        """Check every file of a version against its recorded sha256 (IntegrityError names the first bad one).

        A numeric model is served from one file but stored with others; a damaged
        file must stop a load or a promotion even if this server would not read it.
        """
        for kind in record.artifacts:
            self.read_file(record, kind)

    def load_model(self, record: VersionRecord) -> Any:
        """The fitted scikit-learn pipeline of a version, checked and safely deserialised; an XGBoost
        or LightGBM estimator gets its booster back from the booster file (boosters.py)."""
        from tabserve.registry.boosters import BOOSTER_KIND, BoosterFile, attach, library_of_file
        from tabserve.registry.serialization import load_model

        label = f"model '{record.model}' version {record.version}"
        model = load_model(self.read_file(record, "model"), label, self.trusted_types)
        booster = None
        if BOOSTER_KIND in record.artifacts:
            library = library_of_file(record.artifacts[BOOSTER_KIND]["key"].rsplit("/", 1)[-1])
            if library is None:
                raise IntegrityError(f"{label}: its booster file is of no known library")
            booster = BoosterFile(library, self.read_file(record, BOOSTER_KIND))
        return attach(model, booster, label)

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

    def promote(self, model: str, version: int) -> None:
        """Point production at a version whose every file passes its checksum (ConflictError if one fails)."""
        try:
            self.verify(self.get(model, version))
        except IntegrityError as exc:
            raise ConflictError(f"{exc}; not promoted") from None
        self.metadata.set_alias(model, version, PRODUCTION)
        log.info("%s version %d is now %s", model, version, PRODUCTION)

    def rollback(self, model: str) -> int:
        """Give production back to the version it had before, if every file of it passes its checksum."""
        target = self.metadata.rollback_target(model, PRODUCTION)
        try:
            self.verify(self.get(model, target))
        except IntegrityError as exc:
            raise ConflictError(f"{exc}; not rolled back") from None
        version = self.metadata.rollback_alias(model, PRODUCTION, expected=target)
        log.info("%s rolled back: %s is version %d", model, PRODUCTION, version)
        return version
