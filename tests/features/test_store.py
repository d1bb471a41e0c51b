"""Opening the store and applying a repo's definitions (kfops.features.store)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kfops.config import FeaturesConfig
from kfops.errors import FeaturesError
from kfops.features.store import (
    apply_definitions,
    definition_files,
    feast_errors,
    load_definitions,
    open_store,
    repo_config,
)

from .conftest import DEFINITIONS, SERVICE


def files_in(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def test_run_state_goes_under_the_state_dir_and_never_into_the_repo(repo, features_cfg, state):
    before = files_in(repo)
    store = open_store(features_cfg, state)
    apply_definitions(store, features_cfg)
    assert files_in(repo) == before
    assert {"registry.db", "online_store.db"} <= files_in(state / "feast")
    assert {v.name for v in store.list_feature_views()} == {"activity", "profile"}
    assert store.get_feature_service(SERVICE).name == SERVICE


def test_apply_is_idempotent(store, features_cfg):
    apply_definitions(store, features_cfg)
    assert len(store.list_feature_views()) == 2


def test_feastignore_and_private_folders_are_skipped(make_repo):
    repo = make_repo(**{".feastignore": "# generators\nmake_data.py\n", "make_data.py": "boom("})
    (repo / "__pycache__").mkdir()
    (repo / "__pycache__" / "x.py").write_text("boom(")
    assert [p.name for p in definition_files(repo)] == ["definitions.py"]
    names = {getattr(o, "name", None) for o in load_definitions(repo)}
    assert {"customer", "snapshots", "activity", "profile", "svc"} <= names


def test_unset_profile_variable_is_a_features_error(repo, state, monkeypatch):
    monkeypatch.delenv("KFOPS_FEAST_REDIS", raising=False)
    cfg = FeaturesConfig(repo=str(repo), service=SERVICE, store_yaml="feature_store.redis.yaml")
    with pytest.raises(FeaturesError, match=r"\$\{KFOPS_FEAST_REDIS\} is not set; export"):
        repo_config(cfg, state)


def test_missing_profile_is_a_features_error(repo, state):
    cfg = FeaturesConfig(repo=str(repo), service=SERVICE, store_yaml="nope.yaml")
    with pytest.raises(FeaturesError, match=r"nope.yaml: feature store profile not found"):
        open_store(cfg, state)


BROKEN = {
    "missing service": (
        DEFINITIONS,
        "nope",
        r"feature service 'nope' is not defined in .*repo \(defined: svc\); fix features.service",
    ),
    "missing view": (
        DEFINITIONS.replace(
            'svc = FeatureService(name="svc", features=[activity, profile])',
            "svc = FeatureService(name='svc', features=[activity, FeatureView(name='hidden',"
            " entities=[customer], ttl=timedelta(days=1), source=snapshots,"
            " schema=[Field(name='age', dtype=Int64)])])",
        ),
        SERVICE,
        r"feature view 'hidden' of feature service 'svc' is not defined in .*repo; define it",
    ),
    "import error": (
        DEFINITIONS + "\nraise RuntimeError('half-written file')\n",
        SERVICE,
        r"definitions.py: feature definitions fail to import \(RuntimeError: half-written",
    ),
    "apply refused": (
        DEFINITIONS + "\nagain = FeatureView(name='activity', entities=[customer], "
        "source=snapshots, schema=[Field(name='age', dtype=Int64)])\n",
        SERVICE,
        r"repo: feast apply failed: .*activity.*; fix the feature definitions",
    ),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_broken_definitions_are_features_errors_and_write_nothing(make_repo, state, case):
    definitions, service, match = BROKEN[case]
    cfg = FeaturesConfig(repo=str(make_repo(definitions)), service=service)
    store = open_store(cfg, state)
    with pytest.raises(FeaturesError, match=match):
        apply_definitions(store, cfg)
    online = state / "feast" / "online_store.db"
    if online.exists():  # Feast may create empty tables before it refuses; never rows
        import sqlite3

        with sqlite3.connect(online) as db:
            tables = [t for (t,) in db.execute("select name from sqlite_master where type='table'")]
            assert all(db.execute(f"select count(*) from {t}").fetchone()[0] == 0 for t in tables)


def test_redis_connection_failures_inside_feast_name_the_fix():
    import redis

    with (
        pytest.raises(FeaturesError, match=r"^lookup: Redis online store unreachable \(Conn"),
        feast_errors("lookup", "unused"),
    ):
        raise redis.exceptions.ConnectionError("Error 111 connecting to 127.0.0.1:1.")


def test_other_failures_inside_feast_are_one_line_features_errors():
    with (
        pytest.raises(FeaturesError, match=r"^read: ValueError: bad; fix it$"),
        feast_errors("read", "fix it"),
    ):
        raise ValueError("bad\nsecond line")
