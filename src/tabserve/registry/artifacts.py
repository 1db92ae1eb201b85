"""Artifact stores: where model files live. A local folder or an S3 bucket.

Both take and give whole files as bytes (models are small) and make a file
visible only once it is complete, so callers never branch on which they have.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path
from typing import Protocol
from urllib.parse import urlparse

from tabserve.errors import BackendUnavailableError, ConfigError, IntegrityError
from tabserve.extras import require_backend

log = logging.getLogger(__name__)
ARTIFACTS_UNREACHABLE = "the artifact store is unreachable"


class ArtifactStore(Protocol):
    """The small protocol every artifact store implements."""

    def put(self, key: str, data: bytes) -> None:
        """Store ``data`` under ``key``; readers see all of it or nothing."""

    def get(self, key: str) -> bytes:
        """Return the bytes under ``key`` or raise IntegrityError if missing."""

    def delete(self, key: str) -> None:
        """Remove ``key`` if present."""

    def describe(self, key: str) -> str:
        """A location for humans: a path or an s3:// URI."""

    def list_keys(self) -> list[tuple[str, float]]:
        """Every stored key with its last-modified time (epoch seconds), for garbage collection."""


class LocalArtifactStore:
    """Files under a folder; written to a temporary name, then renamed into place."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise IntegrityError(f"artifact key '{key}' points outside the store")
        return path

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=".partial-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp_name, path)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise IntegrityError(f"artifact '{self.describe(key)}' is missing") from None

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def describe(self, key: str) -> str:
        return str(self.root / key)

    def list_keys(self) -> list[tuple[str, float]]:
        if not self.root.is_dir():
            return []
        return [
            (path.relative_to(self.root).as_posix(), path.stat().st_mtime)
            for path in self.root.rglob("*")
            if path.is_file()
        ]


class S3ArtifactStore:
    """Objects in ``s3://bucket/prefix``; an S3 PUT is atomic, so no staging is needed."""

    def __init__(self, bucket: str, prefix: str, endpoint_url: str | None = None) -> None:
        require_backend("boto3", "an s3:// artifact store")
        import boto3
        from botocore.config import Config

        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.endpoint_url = endpoint_url
        config = Config(connect_timeout=5, read_timeout=30, retries={"max_attempts": 3})
        # An own session: credentials and region are read from the environment now, not cached from
        # whatever boto3's default session saw first.
        self.client = boto3.session.Session().client("s3", endpoint_url=endpoint_url, config=config)

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def _call(self, action: str, key: str, **kwargs: object) -> dict:
        from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

        where = self.endpoint_url or "AWS"
        try:
            return getattr(self.client, action)(Bucket=self.bucket, Key=self._key(key), **kwargs)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code = error.get("Code", "")
            if code in ("NoSuchKey", "404", "NotFound"):
                raise IntegrityError(f"artifact '{self.describe(key)}' is missing") from None
            if code == "NoSuchBucket":
                raise BackendUnavailableError(
                    f"registry.artifacts: S3 bucket '{self.bucket}' does not exist at {where}",
                    public=ARTIFACTS_UNREACHABLE,
                ) from None
            detail = f"{code} {error.get('Message', '')}".strip()
            raise BackendUnavailableError(
                f"S3 {action} of '{self.describe(key)}' at {where} failed: {detail}",
                public=ARTIFACTS_UNREACHABLE,
            ) from None
        except NoCredentialsError:
            raise BackendUnavailableError(
                "S3: no AWS credentials; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE)",
                public=ARTIFACTS_UNREACHABLE,
            ) from None
        except BotoCoreError as exc:
            raise BackendUnavailableError(
                f"S3 at {where} unreachable: {exc}", public=ARTIFACTS_UNREACHABLE
            ) from None

    def put(self, key: str, data: bytes) -> None:
        # put_object returns only once the object is stored whole, and botocore sends a
        # checksum the server verifies, so a returned put is a complete upload.
        self._call("put_object", key, Body=data)

    def get(self, key: str) -> bytes:
        from botocore.exceptions import BotoCoreError

        body = self._call("get_object", key)["Body"]
        try:
            return body.read()
        except BotoCoreError as exc:  # the connection dropped mid-download
            raise BackendUnavailableError(
                f"S3 read of '{self.describe(key)}' failed: {exc}", public=ARTIFACTS_UNREACHABLE
            ) from None

    def delete(self, key: str) -> None:
        self._call("delete_object", key)

    def describe(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._key(key)}"

    def list_keys(self) -> list[tuple[str, float]]:
        from botocore.exceptions import BotoCoreError, ClientError

        start = f"{self.prefix}/" if self.prefix else ""
        found: list[tuple[str, float]] = []
        try:
            for page in self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=start
            ):
                for item in page.get("Contents", []):
                    found.append((item["Key"][len(start) :], item["LastModified"].timestamp()))
        except (BotoCoreError, ClientError) as exc:
            raise BackendUnavailableError(
                f"S3 listing of s3://{self.bucket}/{start} failed: {exc}", public=ARTIFACTS_UNREACHABLE
            ) from None
        return found


def open_artifact_store(location: str, s3_endpoint_url: str | None = None) -> ArtifactStore:
    """A store for ``registry.artifacts``: a folder path or ``s3://bucket/prefix``."""
    if location.startswith("s3://"):
        parsed = urlparse(location)
        if not parsed.netloc:
            raise ConfigError(f"registry.artifacts: '{location}' has no bucket (s3://bucket/prefix)")
        return S3ArtifactStore(parsed.netloc, parsed.path, s3_endpoint_url)
    if "://" in location:
        raise ConfigError(f"registry.artifacts: '{location}' is neither a folder nor s3://bucket/prefix")
    return LocalArtifactStore(location)
