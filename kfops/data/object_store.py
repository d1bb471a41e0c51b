"""Datasets in object storage: ``s3://BUCKET/KEY`` and ``gs://BUCKET/KEY``, read through fsspec.

A cluster's pods cannot read the submitting machine's files, so ``data.path`` may name an
object instead. Credentials are the stores' standard ones, never kfops settings:

* S3 (s3fs): ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``/``AWS_SESSION_TOKEN``,
  ``AWS_PROFILE``, ``AWS_DEFAULT_REGION``, and ``AWS_ENDPOINT_URL`` (or
  ``AWS_ENDPOINT_URL_S3``) for MinIO and other S3 APIs, which are then addressed path-style
  (``http://minio:9000/BUCKET/KEY``), as they serve buckets without wildcard DNS names.
* GCS (gcsfs): Google's application default credentials (``GOOGLE_APPLICATION_CREDENTIALS``,
  ``gcloud auth application-default login``, or the metadata server on GCP).

The object is copied to a temporary file named like the key, so the format and the
compression (``.csv.gz``) are told from the key's extension exactly as for local files.
Every failure is one line naming the URI and the fix.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlparse

import pandas as pd

from kfops.config import DataFormat
from kfops.data.formats import SUPPORTED, format_of
from kfops.errors import DataError, one_line

PACKAGES = {"s3": "s3fs", "s3a": "s3fs", "gs": "gcsfs", "gcs": "gcsfs"}
"""URI scheme -> the fsspec implementation that reads it (each is a kfops dependency)."""

S3_ENDPOINT_VARIABLES = ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")


def _is_s3(scheme: str) -> bool:
    return PACKAGES[scheme] == "s3fs"


def split_uri(uri: str) -> tuple[str, str, str]:
    """``s3://bucket/data/a.csv`` -> ``("s3", "bucket", "data/a.csv")``; refuses a bare bucket."""
    parsed = urlparse(uri)
    scheme = parsed.scheme.lower()
    bucket, key = parsed.netloc, parsed.path.lstrip("/")
    if scheme not in PACKAGES:
        raise DataError(f"{uri}: not an object-store URI; write s3://BUCKET/KEY or gs://BUCKET/KEY")
    if not bucket or not key or key.endswith("/"):
        raise DataError(
            f"{uri}: name one object, as {scheme}://BUCKET/path/to/data.csv (or .parquet)"
        )
    return scheme, bucket, key


def _endpoint() -> str:
    return next((os.environ[v] for v in S3_ENDPOINT_VARIABLES if os.environ.get(v)), "")


def _filesystem(scheme: str, uri: str) -> Any:
    """A fresh filesystem: fsspec's instance cache would keep the credentials and endpoint
    of an earlier call, so a long-lived process would miss rotated keys."""
    import fsspec

    options: dict[str, Any] = {"skip_instance_cache": True}
    if _is_s3(scheme) and _endpoint():
        options["config_kwargs"] = {"s3": {"addressing_style": "path"}}
    try:
        return fsspec.filesystem(scheme, **options)
    except ImportError as exc:
        raise DataError(
            f"{uri}: reading {scheme}:// needs the '{PACKAGES[scheme]}' package; "
            f"install it with: pip install {PACKAGES[scheme]}"
        ) from exc


def _where(scheme: str) -> str:
    """The endpoint a request went to, for messages."""
    if _is_s3(scheme):
        endpoint = _endpoint()
        return f"the S3 endpoint {endpoint}" if endpoint else "S3"
    emulator = os.environ.get("STORAGE_EMULATOR_HOST", "")
    return f"the GCS endpoint {emulator}" if emulator else "Google Cloud Storage"


def _credentials_fix(scheme: str) -> str:
    if _is_s3(scheme):
        return (
            "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for "
            "temporary keys) or AWS_PROFILE"
        )
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


def _unreachable(exc: BaseException) -> bool:
    """Connection refused, DNS failure or timeout on the way to the store."""
    names = {cls.__name__ for cls in type(exc).__mro__}
    return bool(
        names & {"EndpointConnectionError", "ConnectTimeoutError", "ClientConnectorError"}
        or isinstance(exc, ConnectionError | TimeoutError)
    )


def _no_credentials(exc: BaseException) -> bool:
    names = {cls.__name__ for cls in type(exc).__mro__}
    if names & {"NoCredentialsError", "PartialCredentialsError", "DefaultCredentialsError"}:
        return True
    return getattr(exc, "code", None) == 401  # gcsfs falls back to anonymous requests


def _failure(
    exc: BaseException, uri: str, scheme: str, bucket: str, key: str, fs: Any
) -> DataError:
    """The one-line error for a failed request, with the fix."""
    if isinstance(exc, FileNotFoundError):
        if not _bucket_exists(fs, bucket):
            return DataError(
                f"{uri}: bucket '{bucket}' does not exist at {_where(scheme)}; check the bucket "
                "name in data.path (and the endpoint), or create the bucket"
            )
        return DataError(
            f"{uri}: no object '{key}' in bucket '{bucket}'; check the key in data.path, or "
            f"upload the dataset there"
        )
    if _no_credentials(exc):
        return DataError(f"{uri}: no credentials for {_where(scheme)}; {_credentials_fix(scheme)}")
    denied = isinstance(exc, PermissionError) or "Forbidden" in str(exc).split("\n", 1)[0]
    if denied:
        right = "s3:GetObject" if _is_s3(scheme) else "storage.objects.get"
        return DataError(
            f"{uri}: access denied ({one_line(exc)}); grant the credentials in use {right} "
            f"on {bucket}/{key}, or use credentials that can read it"
        )
    if _unreachable(exc):
        return DataError(
            f"{uri}: cannot reach {_where(scheme)} ({one_line(exc)}); check the endpoint "
            "(AWS_ENDPOINT_URL for MinIO) and the network"
            if _is_s3(scheme)
            else f"{uri}: cannot reach {_where(scheme)} ({one_line(exc)}); check the network"
        )
    return DataError(
        f"{uri}: cannot read from {_where(scheme)} ({type(exc).__name__}: {one_line(exc)}); "
        "check the URI, the credentials and the endpoint"
    )


def _info(fs: Any, uri: str, scheme: str, bucket: str, key: str) -> dict[str, Any]:
    try:
        info = fs.info(f"{bucket}/{key}")
    except Exception as exc:  # every store error becomes a DataError with the fix
        raise _failure(exc, uri, scheme, bucket, key, fs) from exc
    if info.get("type") == "directory":
        raise DataError(f"{uri}: '{key}' is a folder; point at one CSV or Parquet object in it")
    return dict(info)


def object_fingerprint(uri: str) -> str:
    """SHA-256 of the URI and the object's version (ETag or generation, size, time).

    One metadata request, no download: the local runner's step cache is keyed on it, so a
    replaced object is never served from cache under its unchanged URI.
    """
    scheme, bucket, key = split_uri(uri)
    fs = _filesystem(scheme, uri)
    info = _info(fs, uri, scheme, bucket, key)
    version = [
        str(info.get(field, ""))
        for field in ("ETag", "etag", "VersionId", "generation", "size", "LastModified", "updated")
    ]
    return hashlib.sha256("\0".join([uri, *version]).encode()).hexdigest()


def read_object(uri: str, fmt: DataFormat) -> pd.DataFrame:
    """Read a CSV or Parquet object; the reader ``READERS`` uses for s3://, gs:// and kin."""
    scheme, bucket, key = split_uri(uri)
    name = PurePosixPath(key).name
    try:
        fmt = format_of(Path(name), DataFormat(fmt))
    except DataError:
        raise DataError(
            f"{uri}: cannot tell the format from the extension of '{name}'; use {SUPPORTED}, "
            "or set data.format to csv or parquet"
        ) from None
    fs = _filesystem(scheme, uri)
    _info(fs, uri, scheme, bucket, key)
    with tempfile.TemporaryDirectory(prefix="kfops-object-") as tmp:
        local = Path(tmp) / name  # the key's name: pandas infers compression from it
        try:
            fs.get_file(f"{bucket}/{key}", str(local))
        except Exception as exc:  # every store error becomes a DataError with the fix
            raise _failure(exc, uri, scheme, bucket, key, fs) from exc
        try:
            return pd.read_csv(local) if fmt is DataFormat.CSV else pd.read_parquet(local)
        except pd.errors.EmptyDataError:
            return pd.DataFrame()
        except Exception as exc:  # any parser failure means "not readable in this format"
            raise DataError(
                f"{uri}: cannot read as {fmt.value} ({one_line(exc)}); use {SUPPORTED}, "
                "or set data.format to match the object"
            ) from exc
