"""S3 objects for scoring: a client configured like the registry's store, listing and whole-object moves.

Objects are copied to and from local temporary files, so a Parquet file can be
read by row groups and a part file is uploaded only once it is complete.
"""

from __future__ import annotations

import fnmatch
import logging
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from tabserve.errors import BackendUnavailableError, DataError

log = logging.getLogger(__name__)


def split_url(url: str) -> tuple[str, str]:
    """``s3://bucket/key`` as (bucket, key), or a DataError naming the problem."""
    parsed = urlparse(url)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise DataError("score: an s3:// location needs a bucket (s3://bucket/key)")
    return parsed.netloc, parsed.path.lstrip("/")


def client(endpoint_url: str | None) -> Any:
    """A boto3 S3 client on its own session (credentials read now), with the registry's timeouts."""
    import boto3
    from botocore.config import Config

    config = Config(connect_timeout=5, read_timeout=60, retries={"max_attempts": 3})
    return boto3.session.Session().client("s3", endpoint_url=endpoint_url, config=config)


def _failed(action: str, url: str, exc: Exception) -> BackendUnavailableError:
    """The failure in one line naming the action and the S3 error code; the log names the object."""
    code = getattr(exc, "response", {}).get("Error", {}).get("Code", type(exc).__name__)
    log.error("score: S3 %s of %s failed: %s", action, url, code)
    return BackendUnavailableError(f"score: S3 {action} failed ({code}; the log names the object)")


def list_matching(url: str, endpoint_url: str | None) -> list[str]:
    """Object URLs under ``url``: the object itself, every object of a prefix, or a glob's matches."""
    bucket, key = split_url(url)
    pattern = key if any(c in key for c in "*?[") else None
    prefix = key.split("*")[0].split("?")[0].split("[")[0] if pattern else key
    s3 = client(endpoint_url)
    keys: list[str] = []
    try:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            keys.extend(item["Key"] for item in page.get("Contents", []))
    except Exception as exc:
        raise _failed("listing", f"s3://{bucket}/{prefix}", exc) from None
    if pattern:
        keys = [k for k in keys if fnmatch.fnmatchcase(k, pattern)]
    elif key in keys:
        keys = [key]
    else:
        folder = key.rstrip("/") + "/" if key else ""
        keys = [k for k in keys if k.startswith(folder) and not k.endswith("/")]
    return [f"s3://{bucket}/{k}" for k in sorted(keys)]


def download(url: str, target: Path, endpoint_url: str | None) -> None:
    bucket, key = split_url(url)
    try:
        client(endpoint_url).download_file(bucket, key, str(target))
    except Exception as exc:
        raise _failed("download", url, exc) from None


def upload(source: Path, url: str, endpoint_url: str | None) -> None:
    """Upload a finished local file; S3 makes the object visible only once it is whole."""
    bucket, key = split_url(url)
    try:
        client(endpoint_url).upload_file(str(source), bucket, key)
    except Exception as exc:
        raise _failed("upload", url, exc) from None


def put_text(url: str, text: str, endpoint_url: str | None) -> None:
    bucket, key = split_url(url)
    try:
        client(endpoint_url).put_object(Bucket=bucket, Key=key, Body=text.encode())
    except Exception as exc:
        raise _failed("write", url, exc) from None


def get_text(url: str, endpoint_url: str | None) -> str | None:
    """The object's text, or None if there is no such object."""
    bucket, key = split_url(url)
    s3 = client(endpoint_url)
    try:
        return s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
    except s3.exceptions.NoSuchKey:
        return None
    except Exception as exc:
        raise _failed("read", url, exc) from None


def delete(url: str, endpoint_url: str | None) -> None:
    bucket, key = split_url(url)
    try:
        client(endpoint_url).delete_object(Bucket=bucket, Key=key)
    except Exception as exc:
        raise _failed("delete", url, exc) from None
