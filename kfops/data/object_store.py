"""Datasets in object storage (``s3://BUCKET/KEY``, ``gs://BUCKET/KEY``) or at an HTTP URL.

A cluster's pods cannot read the submitting machine's files, so ``data.path`` may name an
object instead. Credentials are the stores' standard ones, never kfops settings:

* S3 (s3fs): ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``/``AWS_SESSION_TOKEN``,
  ``AWS_PROFILE``, ``AWS_DEFAULT_REGION``, and ``AWS_ENDPOINT_URL`` (or
  ``AWS_ENDPOINT_URL_S3``) for MinIO and other S3 APIs, which are then addressed path-style
  (``http://minio:9000/BUCKET/KEY``), as they serve buckets without wildcard DNS names.
* GCS (gcsfs): Google's application default credentials (``GOOGLE_APPLICATION_CREDENTIALS``,
  ``gcloud auth application-default login``, or the metadata server on GCP).
* ``https://`` (fsspec's HTTP filesystem): no credentials but those in the URL, which is
  how a presigned S3 or signed GCS URL lets a pod read one private object.

The object is copied to a temporary file named like the key, so the format and the
compression (``.csv.gz``) are told from the key's extension exactly as for local files.
Every failure is one line naming the URI and the fix.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import unquote, urlparse

import pandas as pd

from kfops.config import DataFormat
from kfops.data.formats import format_of, read_frame
from kfops.errors import DataError, one_line

PACKAGES = {
    "s3": "s3fs",
    "s3a": "s3fs",
    "gs": "gcsfs",
    "gcs": "gcsfs",
    "http": "aiohttp",
    "https": "aiohttp",
}
"""URI scheme -> the package fsspec reads it with (each is a kfops dependency)."""

S3_ENDPOINT_VARIABLES = ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")
FORM = "s3://BUCKET/path/to/data.csv (or .parquet, gs://, https://)"


@dataclass(frozen=True)
class ObjectLocation:
    """One object: its store, its bucket (the host, for HTTP) and its key."""

    uri: str
    scheme: str
    bucket: str
    key: str

    @property
    def is_s3(self) -> bool:
        return PACKAGES[self.scheme] == "s3fs"

    @property
    def is_http(self) -> bool:
        return PACKAGES[self.scheme] == "aiohttp"

    @property
    def fs_path(self) -> str:
        """What the filesystem is asked for: the whole URL (query included) for HTTP."""
        return self.uri if self.is_http else f"{self.bucket}/{self.key}"

    @property
    def name(self) -> str:
        return PurePosixPath(self.key).name


def locate_object(uri: str) -> ObjectLocation:
    """``s3://bucket/data/a.csv`` -> its scheme, bucket and key; refuses a bare bucket."""
    parsed = urlparse(uri)
    scheme = parsed.scheme.lower()
    if scheme not in PACKAGES:
        raise DataError(f"{uri}: not an object-store URI; write {FORM}")
    bucket, key = parsed.netloc, unquote(parsed.path).lstrip("/")
    if not bucket or not key or key.endswith("/"):
        raise DataError(f"{uri}: name one object, as {FORM}")
    return ObjectLocation(uri, scheme, bucket, key)


def _endpoint() -> str:
    return next((os.environ[v] for v in S3_ENDPOINT_VARIABLES if os.environ.get(v)), "")


def _filesystem(where: ObjectLocation) -> Any:
    """A fresh filesystem: fsspec's instance cache would keep the credentials and endpoint
    of an earlier call, so a long-lived process would miss rotated keys."""
    import fsspec

    options: dict[str, Any] = {"skip_instance_cache": True}
    if where.is_s3 and _endpoint():
        options["config_kwargs"] = {"s3": {"addressing_style": "path"}}
    try:
        return fsspec.filesystem(where.scheme, **options)
    except ImportError as exc:
        package = PACKAGES[where.scheme]
        raise DataError(
            f"{where.uri}: reading {where.scheme}:// needs the '{package}' package; "
            f"install it with: pip install {package}"
        ) from exc


def _store(where: ObjectLocation) -> str:
    """The endpoint a request went to, for messages."""
    if where.is_http:
        return where.bucket
    if where.is_s3:
        endpoint = _endpoint()
        return f"the S3 endpoint {endpoint}" if endpoint else "S3"
    emulator = os.environ.get("STORAGE_EMULATOR_HOST", "")
    return f"the GCS endpoint {emulator}" if emulator else "Google Cloud Storage"


def _credentials_fix(where: ObjectLocation) -> str:
    if where.is_s3:
        return (
            "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for "
            "temporary keys) or AWS_PROFILE"
        )
    if where.is_http:
        return "use a URL that carries its access, e.g. a fresh presigned URL"
    return (
        "set GOOGLE_APPLICATION_CREDENTIALS to a service-account key file or run "
        "'gcloud auth application-default login'"
    )


def _bucket_exists(fs: Any, bucket: str) -> bool:
    """Whether the bucket is there; a refused probe counts as there (the key is the problem)."""
    try:
        return bool(fs.exists(bucket))
    except Exception:  # the object's own error is the one worth reporting
        return True


def _names(exc: BaseException) -> set[str]:
    """Class names along the MRO: botocore's and google-auth's errors are told apart by
    name, so this module needs neither package at import time."""
    return {cls.__name__ for cls in type(exc).__mro__}


def _unreachable(exc: BaseException) -> bool:
    """Connection refused, DNS failure or timeout on the way to the store."""
    names = {"EndpointConnectionError", "ConnectTimeoutError", "ClientConnectorError"}
    return bool(_names(exc) & names) or isinstance(exc, ConnectionError | TimeoutError)


def _status(exc: BaseException) -> int | None:
    """The HTTP status of a refused request (gcsfs ``code``, aiohttp ``status``)."""
    for attribute in ("status", "code"):
        value = getattr(exc, attribute, None)
        if isinstance(value, int) and 400 <= value < 600:
            return value
    return None


def _detail(exc: BaseException) -> str:
    """What the store said, briefly: ``HTTP 403 Forbidden`` rather than aiohttp's repr."""
    status, message = getattr(exc, "status", None), getattr(exc, "message", None)
    if isinstance(status, int) and isinstance(message, str):
        return f"HTTP {status} {message.title()}"
    return one_line(exc)


def _no_credentials(exc: BaseException) -> bool:
    names = {"NoCredentialsError", "PartialCredentialsError", "DefaultCredentialsError"}
    return bool(_names(exc) & names) or _status(exc) == 401  # gcsfs falls back to anonymous


def _denied(exc: BaseException) -> bool:
    first = str(exc).split("\n", 1)[0]
    return isinstance(exc, PermissionError) or _status(exc) == 403 or "Forbidden" in first


def _not_found(where: ObjectLocation, fs: Any) -> DataError:
    if where.is_http:
        return DataError(f"{where.uri}: nothing at this URL (HTTP 404); check the URL")
    if not _bucket_exists(fs, where.bucket):
        return DataError(
            f"{where.uri}: bucket '{where.bucket}' does not exist at {_store(where)}; check the "
            "bucket name in data.path (and the endpoint), or create the bucket"
        )
    return DataError(
        f"{where.uri}: no object '{where.key}' in bucket '{where.bucket}'; check the key in "
        "data.path, or upload the dataset there"
    )


def _failure(exc: BaseException, where: ObjectLocation, fs: Any) -> DataError:
    """The one-line error for a failed request, with the fix."""
    uri = where.uri
    cause = exc.__cause__
    if where.is_http and isinstance(exc, FileNotFoundError) and isinstance(cause, Exception):
        return _failure(cause, where, fs)  # fsspec's HTTP info() calls every failure "not found"
    if isinstance(exc, FileNotFoundError) or _status(exc) == 404:
        return _not_found(where, fs)
    if _no_credentials(exc):
        return DataError(f"{uri}: no credentials for {_store(where)}; {_credentials_fix(where)}")
    if _denied(exc):
        if where.is_http:
            fix = _credentials_fix(where)
        else:
            right = "s3:GetObject" if where.is_s3 else "storage.objects.get"
            fix = f"grant the credentials in use {right} on {where.bucket}/{where.key}"
            fix += ", or use credentials that can read it"
        return DataError(f"{uri}: access denied ({_detail(exc)}); {fix}")
    if _unreachable(exc):
        check = "the endpoint (AWS_ENDPOINT_URL for MinIO) and the network"
        return DataError(
            f"{uri}: cannot reach {_store(where)} ({one_line(exc)}); "
            f"check {check if where.is_s3 else 'the URI and the network'}"
        )
    return DataError(
        f"{uri}: cannot read from {_store(where)} ({type(exc).__name__}: {_detail(exc)}); "
        "check the URI, the credentials and the endpoint"
    )


def _info(fs: Any, where: ObjectLocation) -> dict[str, Any]:
    try:
        info = fs.info(where.fs_path)
    except Exception as exc:  # every store error becomes a DataError with the fix
        raise _failure(exc, where, fs) from exc
    if info.get("type") == "directory":
        raise DataError(
            f"{where.uri}: '{where.key}' is a folder; point at one CSV or Parquet object in it"
        )
    return dict(info)


def object_fingerprint(uri: str) -> str:
    """SHA-256 of the URI and the object's version (ETag or generation, size, time).

    One metadata request, no download: a step cache keyed on it never serves a replaced
    object under its unchanged URI.
    """
    where = locate_object(uri)
    try:
        info = _info(_filesystem(where), where)
    except DataError:
        if not where.is_http:
            raise
        info = {}  # a presigned URL refuses HEAD; its signature changes with each signing
    fields = ("ETag", "etag", "VersionId", "generation", "size", "LastModified", "updated")
    version = [str(info.get(field, "")) for field in fields]
    return hashlib.sha256("\0".join([uri, *version]).encode()).hexdigest()


def read_object(uri: str, fmt: DataFormat) -> pd.DataFrame:
    """Read a CSV or Parquet object; the reader ``READERS`` uses for s3://, gs://, https://."""
    where = locate_object(uri)
    fmt = format_of(Path(where.name), fmt, source=uri)
    fs = _filesystem(where)
    if not where.is_http:  # a presigned URL is signed for GET only: its HEAD is refused
        _info(fs, where)
    with tempfile.TemporaryDirectory(prefix="kfops-object-") as tmp:
        local = Path(tmp) / where.name  # the key's name: pandas infers compression from it
        try:
            fs.get_file(where.fs_path, str(local))
        except Exception as exc:  # every store error becomes a DataError with the fix
            raise _failure(exc, where, fs) from exc
        return read_frame(local, fmt, uri, noun="object")
