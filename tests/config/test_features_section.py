"""The ``features`` section of kfops.yaml (kfops.config.FeaturesConfig)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from kfops.config import config_from_dict, data_config_to_dict, load_config
from kfops.errors import ConfigurationError

REPO = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, features: dict) -> Path:
    config = {"project": "p", "data": {"path": "d.csv", "target": "y"}, "features": features}
    path = tmp_path / "conf" / "kfops.yaml"
    path.parent.mkdir()
    path.write_text(yaml.safe_dump(config))
    return path


def test_repo_is_relative_to_the_config_file_and_defaults_apply(tmp_path):
    cfg = load_config(write(tmp_path, {"repo": "../feature_repo", "service": "s"}))
    assert cfg.features is not None
    assert cfg.features.repo == str((tmp_path / "feature_repo").resolve())
    assert (cfg.features.store_yaml, cfg.features.cutoff) == ("feature_store.yaml", None)


def test_the_section_travels_with_the_data_sections(tmp_path):
    cfg = load_config(
        write(tmp_path, {"repo": "/abs/repo", "service": "s", "cutoff": "2025-12-31"})
    )
    passed = data_config_to_dict(cfg)
    assert passed["features"] == {
        "repo": "/abs/repo",
        "service": "s",
        "store_yaml": "feature_store.yaml",
        "cutoff": "2025-12-31",
    }
    assert config_from_dict(passed).features == cfg.features


def test_without_the_section_there_is_none(tmp_path):
    cfg = load_config(raw={"project": "p", "data": {"path": "d.csv", "target": "y"}})
    assert cfg.features is None and "features" not in data_config_to_dict(cfg)


@pytest.mark.parametrize(
    ("features", "match"),
    [
        ({"repo": "r", "service": "s", "cutoff": "yesterday"}, r"'yesterday' is not an ISO-8601"),
        ({"repo": "r", "service": "s", "servce": "x"}, r"unknown key 'features.servce'"),
        ({"repo": "r"}, r"missing required key 'features.service'"),
    ],
)
def test_bad_sections_are_configuration_errors(tmp_path, features, match):
    with pytest.raises(ConfigurationError, match=match):
        load_config(write(tmp_path, features))


def test_the_bundled_example_names_the_repo_and_service():
    cfg = load_config(REPO / "examples" / "churn" / "kfops.features.yaml")
    assert cfg.features is not None
    assert cfg.features.repo == str(REPO / "feature_repo")
    assert cfg.features.service == "churn_model_v1"
    assert cfg.data.path.endswith("churn_labels.csv")
    assert cfg.model_name == "churn-classifier-feast"
