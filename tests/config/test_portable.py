"""The cluster form of the config (kfops.config.portable): what a pod receives."""

from __future__ import annotations

from pathlib import Path

import pytest

from kfops.config import (
    EMBED_LIMIT,
    POD_STATE_DIR,
    cluster_config,
    config_from_dict,
    load_config,
)
from kfops.errors import ConfigurationError
from tests.config.test_loading import write
from tests.support.values import strings

SERVER = "tracking: {uri: 'http://mlflow.kubeflow:5000'}\n"
S3_DATA = "data: {path: 's3://bucket/churn.csv', target: churned}\n"
SCHEMA = 'feature {\n  name: "age"\n  type: INT\n}\n'


@pytest.fixture(autouse=True)
def _no_tracking_env(monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)


def project(tmp_path: Path, extra: str = "") -> Path:
    (tmp_path / "schema").mkdir()
    (tmp_path / "schema" / "schema.pbtxt").write_text(SCHEMA)
    return write(tmp_path, "project: churn\n" + S3_DATA + SERVER + extra)


def test_the_schema_travels_as_text_and_no_local_path_does(tmp_path):
    cfg = load_config(project(tmp_path, "validation: {schema_path: schema/schema.pbtxt}\n"))
    raw = cluster_config(cfg)
    assert raw["validation"]["schema_text"] == SCHEMA
    assert raw["validation"]["schema_path"] == "schema/schema.pbtxt"
    assert raw["runtime"]["root"] == POD_STATE_DIR
    assert "base_dir" not in raw
    assert not [s for s in strings(raw) if str(tmp_path) in s]
    again = config_from_dict(raw)
    assert again.validation.schema_text == SCHEMA and again.base_dir is None


def test_a_schema_outside_the_project_keeps_only_its_name(tmp_path):
    elsewhere = tmp_path / "shared" / "churn.pbtxt"
    elsewhere.parent.mkdir()
    elsewhere.write_text(SCHEMA)
    folder = tmp_path / "project"
    folder.mkdir()
    cfg = load_config(project(folder, f"validation: {{schema_path: '{elsewhere}'}}\n"))
    raw = cluster_config(cfg)
    assert raw["validation"]["schema_path"] == "churn.pbtxt"
    assert raw["validation"]["schema_text"] == SCHEMA


def test_without_a_schema_path_the_pod_infers_one(tmp_path):
    raw = cluster_config(load_config(project(tmp_path)))
    assert "schema_path" not in raw["validation"] and "schema_text" not in raw["validation"]


def test_a_missing_curated_schema_is_refused(tmp_path):
    cfg = load_config(project(tmp_path, "validation: {schema_path: schema/missing.pbtxt}\n"))
    with pytest.raises(
        ConfigurationError, match=r"validation.schema_path: .*missing.pbtxt does not exist"
    ):
        cluster_config(cfg)


def test_a_schema_over_the_limit_is_refused_with_the_limit(tmp_path):
    cfg = load_config(project(tmp_path, "validation: {schema_path: schema/schema.pbtxt}\n"))
    (tmp_path / "schema" / "schema.pbtxt").write_text("#" * (EMBED_LIMIT + 1))
    with pytest.raises(ConfigurationError, match=r"over the 48 KiB") as caught:
        cluster_config(cfg)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    "path, words",
    [
        ("churn.csv", "a file on this machine"),
        ("/data/churn.csv", "a file on this machine"),
        ("file:///data/churn.csv", "a file on this machine"),
        ("dvc://data/churn.csv@v1", "dvc get --show-url"),
    ],
)
def test_datasets_pods_cannot_read_are_refused(tmp_path, path, words):
    cfg = load_config(
        write(tmp_path, f"project: churn\ndata: {{path: '{path}', target: y}}\n" + SERVER)
    )
    with pytest.raises(ConfigurationError, match="data.path") as caught:
        cluster_config(cfg)
    assert words in str(caught.value)


@pytest.mark.parametrize(
    "tracking, key",
    [
        ("{uri: 'sqlite:///home/me/mlflow.db'}", "tracking.uri"),
        (
            "{uri: 'http://mlflow:5000', registry_uri: 'file:///home/me/mlruns'}",
            "tracking.registry_uri",
        ),
        (
            "{uri: 'http://mlflow:5000', artifact_location: '/home/me/artifacts'}",
            "tracking.artifact_location",
        ),
    ],
)
def test_local_mlflow_stores_are_refused(tmp_path, tracking, key):
    cfg = load_config(write(tmp_path, "project: churn\n" + S3_DATA + f"tracking: {tracking}\n"))
    with pytest.raises(ConfigurationError, match=f"{key}: .* a store on this machine"):
        cluster_config(cfg)


def test_the_environment_tracking_server_is_resolved_for_the_pods(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow.env:5000")
    cfg = load_config(write(tmp_path, "project: churn\n" + S3_DATA))
    assert cluster_config(cfg)["tracking"]["uri"] == "http://mlflow.env:5000"


def feature_repo(root: Path) -> Path:
    repo = root / "feature_repo"
    (repo / "data").mkdir(parents=True)
    (repo / "feature_store.yaml").write_text("project: demo\n")
    (repo / "definitions.py").write_text("# definitions\n")
    (repo / "sub").mkdir()
    (repo / "sub" / "entities.py").write_text("# entities\n")
    (repo / ".feastignore").write_text("generate.py\n")
    (repo / "data" / "snapshots.parquet").write_bytes(b"PAR1")
    (repo / "__pycache__").mkdir()
    (repo / "__pycache__" / "definitions.cpython-311.pyc").write_bytes(b"\0")
    (repo / "__pycache__" / "stale.py").write_text("# cached\n")
    return repo


def test_the_feature_repo_travels_as_its_definition_files(tmp_path):
    feature_repo(tmp_path)
    extra = "features: {repo: feature_repo, service: svc}\n"
    raw = cluster_config(load_config(project(tmp_path, extra)))
    assert raw["features"]["repo"] == "feature_repo"
    assert raw["features"]["files"] == {
        ".feastignore": "generate.py\n",
        "definitions.py": "# definitions\n",
        "feature_store.yaml": "project: demo\n",
        "sub/entities.py": "# entities\n",
    }
    assert config_from_dict(raw).features.files == raw["features"]["files"]


def test_a_feature_repo_over_the_limit_is_refused(tmp_path):
    repo = feature_repo(tmp_path)
    (repo / "big.yaml").write_text("x" * EMBED_LIMIT)
    extra = "features: {repo: feature_repo, service: svc}\n"
    with pytest.raises(ConfigurationError, match="features.repo: the definition files of"):
        cluster_config(load_config(project(tmp_path, extra)))


def test_a_feature_repo_without_its_profile_is_refused(tmp_path):
    extra = "features: {repo: nowhere, service: svc}\n"
    with pytest.raises(ConfigurationError, match="features.repo: .*feature_store.yaml not found"):
        cluster_config(load_config(project(tmp_path, extra)))


def test_the_cluster_form_is_stable_when_built_again(tmp_path):
    """A config that already travelled (a pod submitting on) keeps its embedded parts."""
    feature_repo(tmp_path)
    extra = "validation: {schema_path: schema/schema.pbtxt}\nfeatures: {repo: feature_repo, service: svc}\n"
    first = cluster_config(load_config(project(tmp_path, extra)))
    assert cluster_config(config_from_dict(first)) == first
