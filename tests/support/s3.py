"""A real S3 API server for tests: moto's, threaded in the test process, on 127.0.0.1.

One helper starts it (``running_s3_server``); ``S3Server`` says how to reach it: a boto3
client, and the environment a process or a container (``--network host``) needs to use it
through the standard AWS variables (plus MLflow's and Feast's own endpoint variables).
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest

KEYS = ("testing", "testing")
REGION = "us-east-1"

# Set by a developer's or CI's AWS set-up; each would send requests elsewhere or sign them
# with other credentials.
FOREIGN_AWS_VARIABLES = (
    "AWS_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_ENDPOINT_URL_S3",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class S3Server:
    """Where the server listens and the credentials it accepts (moto checks none by default)."""

    endpoint: str
    access_key: str = KEYS[0]
    secret_key: str = KEYS[1]
    region: str = REGION

    def client(self):
        """A boto3 S3 client on this server, whatever the environment says."""
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name=self.region,
        )

    def create_bucket(self, name: str) -> str:
        self.client().create_bucket(Bucket=name)
        return name

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        """Every object key under ``prefix``, over all pages."""
        pages = (
            self.client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        )
        return [item["Key"] for page in pages for item in page.get("Contents", [])]

    def env(self) -> dict[str, str]:
        """Variables that point AWS SDKs, s3fs, pyarrow, MLflow and Feast at this server.

        For a subprocess (merge into its environment) or a container run with
        ``--network host`` (pass each as ``-e NAME=value``).
        """
        return {
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_ENDPOINT_URL": self.endpoint,
            # MLflow's S3 artifact repository and Feast's S3 registry read their own variable.
            "MLFLOW_S3_ENDPOINT_URL": self.endpoint,
            "FEAST_S3_ENDPOINT_URL": self.endpoint,
            "AWS_EC2_METADATA_DISABLED": "true",  # no probe of 169.254.169.254
        }


@contextmanager
def running_s3_server() -> Iterator[S3Server]:
    """moto's S3 server on a free loopback port, stopped on exit.

    moto keeps its state per process: two servers in one test process share buckets, so
    give each test's buckets their own names.
    """
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield S3Server(endpoint=f"http://127.0.0.1:{port}")
    finally:
        server.stop()


def use_s3_server(server: S3Server, monkeypatch: pytest.MonkeyPatch, scratch: Path) -> None:
    """Point this process's AWS clients at ``server`` and nothing of this machine's set-up.

    ``scratch``: a folder for the (absent) shared credentials and config files.
    """
    for name in FOREIGN_AWS_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name, value in server.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(scratch / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(scratch / "no-config"))
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")  # a refused connection fails at once
