from pathlib import Path

import pytest

from kfops.config import TaskType, load_config
from kfops.errors import ConfigurationError

BASE = {"project": "demo", "data": {"path": "data.csv", "target": "y"}}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "kfops.yaml"
    path.write_text(text)
    return path


def test_relative_paths_resolve_against_the_config_file(tmp_path):
    cfg = load_config(write(tmp_path, "project: demo\ndata: {path: d/x.csv, target: y}\n"))
    assert cfg.data.path == str(tmp_path / "d" / "x.csv")
    assert cfg.runtime.root == str(tmp_path / ".kfops")
    assert cfg.resolved_tracking_uri() == f"sqlite:///{tmp_path / '.kfops' / 'mlflow.db'}"


def test_uris_are_left_alone(tmp_path):
    cfg = load_config(write(tmp_path, "project: demo\ndata: {path: 's3://b/x.csv', target: y}\n"))
    assert cfg.data.path == "s3://b/x.csv"


@pytest.mark.parametrize(
    ("raw", "match"),
    [
        ({**BASE, "extra": 1}, r"unknown key 'extra'"),
        (
            {**BASE, "data": {"path": "x", "target": "y", "tagret": "z"}},
            r"unknown key 'data.tagret'",
        ),
        ({"project": "demo", "data": {"path": "x"}}, r"missing required key 'data.target'"),
        ({**BASE, "data": {"path": "x", "target": "y", "task": "ranking"}}, r"'data.task'"),
        (
            {**BASE, "data": {"path": "x", "target": "y", "split": {"test_size": 1.5}}},
            r"data.split.test_size",
        ),
        ({**BASE, "project": "Has Spaces"}, r"'project'"),
        ({**BASE, "model": {"estimator": "RandomForest"}}, r"model.estimator.*dotted path"),
        ({**BASE, "registry": {"min_improvement": -1}}, r"registry.min_improvement"),
    ],
)
def test_bad_config_names_the_key(raw, match):
    with pytest.raises(ConfigurationError, match=match):
        load_config(raw=raw)


def test_overrides_and_flags(tmp_path):
    path = write(tmp_path, "project: demo\ndata: {path: x.csv, target: y}\n")
    cfg = load_config(
        path,
        overrides=[
            "model.params.n_estimators=200",
            "data.task=regression",
            "registry.min_improvement=0.01",
        ],
        target="label",
    )
    assert cfg.model.params == {"n_estimators": 200}
    assert cfg.data.task is TaskType.REGRESSION
    assert cfg.data.target == "label"
    assert cfg.registry.min_improvement == 0.01


def test_override_of_unknown_key_is_an_error(tmp_path):
    path = write(tmp_path, "project: demo\ndata: {path: x.csv, target: y}\n")
    with pytest.raises(ConfigurationError, match="unknown key 'model.paramz'"):
        load_config(path, overrides=["model.paramz.a=1"])


@pytest.mark.parametrize("text", ["novalue", "=1"])
def test_malformed_override(text):
    with pytest.raises(ConfigurationError, match="--set"):
        load_config(raw=BASE, overrides=[text])


def test_data_flag_without_config_builds_one():
    cfg = load_config(data="/tmp/My Houses.parquet", target="price")
    assert cfg.project == "my-houses"
    assert cfg.data.path == "/tmp/My Houses.parquet"


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigurationError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")
    with pytest.raises(ConfigurationError, match=r"not valid YAML at line \d"):
        load_config(write(tmp_path, "project: demo\ndata: [\n  - a: b\n  c\n"))


def test_bundled_example_config_is_valid(repo):
    cfg = load_config(repo / "examples" / "churn" / "kfops.yaml")
    assert Path(cfg.data.path).is_file()
    assert cfg.data.entity_column and cfg.data.timestamp_column
