"""Fixtures for the feature store tests: small Feast repos in tmp_path, a real redis-server.

The small repo has one customer entity, one snapshot file and two views over it with
different TTLs, so each point-in-time rule shows in a few rows:

    customer a: T0 calls 1 plan basic age 30 | T0+2d calls 2 plan plus age 30
                T0+5d calls 99 plan leak age 31 (the future, for a label at T0+3d)
    customer b: T0 calls 7 plan basic age 50 (activity expires after 10 days, profile 100)
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pytest

from kfops.config import FeaturesConfig

T0 = pd.Timestamp("2025-03-01T00:00:00Z")
DAY = pd.Timedelta(days=1)
SERVICE = "svc"
FEATURES = ["calls", "plan", "age"]  # the service's order: activity's fields, then profile's

DEFINITIONS = """
from datetime import timedelta

from feast import Entity, FeatureService, FeatureView, Field, FileSource, ValueType
from feast.types import Int64, String

customer = Entity(name="customer", join_keys=["customer_id"], value_type=ValueType.STRING)
snapshots = FileSource(
    name="snapshots", path="data/snapshots.parquet", timestamp_field="event_timestamp"
)
activity = FeatureView(
    name="activity",
    entities=[customer],
    ttl=timedelta(days=10),
    schema=[Field(name="calls", dtype=Int64), Field(name="plan", dtype=String)],
    source=snapshots,
)
profile = FeatureView(
    name="profile",
    entities=[customer],
    ttl=timedelta(days=100),
    schema=[Field(name="age", dtype=Int64)],
    source=snapshots,
)
svc = FeatureService(name="svc", features=[activity, profile])
"""

SQLITE_PROFILE = """
project: kfops_test
provider: local
registry:
  registry_type: file
  path: ${KFOPS_FEAST_HOME}/registry.db
online_store:
  type: sqlite
  path: ${KFOPS_FEAST_HOME}/online_store.db
offline_store:
  type: file
entity_key_serialization_version: 3
"""

REDIS_PROFILE = SQLITE_PROFILE.replace(
    "  type: sqlite\n  path: ${KFOPS_FEAST_HOME}/online_store.db",
    "  type: redis\n  connection_string: ${KFOPS_FEAST_REDIS}",
)


def snapshots() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": ["a", "a", "a", "b"],
            "event_timestamp": [T0, T0 + 2 * DAY, T0 + 5 * DAY, T0],
            "calls": [1, 2, 99, 7],
            "plan": ["basic", "plus", "leak", "basic"],
            "age": [30, 30, 31, 50],
        }
    )


RepoFactory = Callable[..., Path]


@pytest.fixture
def make_repo(tmp_path: Path) -> RepoFactory:
    """Write a Feast repo under tmp_path; extra files by name (e.g. a .feastignore)."""

    def make(definitions: str = DEFINITIONS, data: pd.DataFrame | None = None, **files: str):
        repo = tmp_path / "repo"
        (repo / "data").mkdir(parents=True, exist_ok=True)
        (repo / "definitions.py").write_text(definitions)
        (repo / "feature_store.yaml").write_text(SQLITE_PROFILE)
        (repo / "feature_store.redis.yaml").write_text(REDIS_PROFILE)
        for name, text in files.items():
            (repo / name).write_text(text)
        (snapshots() if data is None else data).to_parquet(repo / "data" / "snapshots.parquet")
        return repo

    return make


@pytest.fixture
def repo(make_repo: RepoFactory) -> Path:
    return make_repo()


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return tmp_path / "state"


@pytest.fixture
def features_cfg(repo: Path) -> FeaturesConfig:
    return FeaturesConfig(repo=str(repo), service=SERVICE)


@pytest.fixture
def store(features_cfg: FeaturesConfig, state: Path):
    from kfops.features.store import apply_definitions, open_store

    opened = open_store(features_cfg, state)
    apply_definitions(opened, features_cfg)
    return opened


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A redis-server of our own on 127.0.0.1 and a free port; yields host:port."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server not installed (Debian package redis-server)")
    port = free_port()
    workdir = tmp_path_factory.mktemp("redis")
    args = ["--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"]
    server = subprocess.Popen(
        [binary, *args, "--dir", str(workdir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"redis-server did not start on 127.0.0.1:{port}")
                time.sleep(0.05)
        yield f"127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture
def redis_url(redis_server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The session's Redis, emptied, and named in KFOPS_FEAST_REDIS for the redis profile."""
    import redis

    host, port = redis_server.split(":")
    redis.Redis(host=host, port=int(port)).flushall()
    monkeypatch.setenv("KFOPS_FEAST_REDIS", redis_server)
    return redis_server
