"""The config's round trip through a KFP struct parameter (kfops.config.kfp_struct)."""

from __future__ import annotations

from kfops.config import (
    KfopsConfig,
    config_from_dict,
    config_to_dict,
    data_config_to_dict,
    load_config,
)
from tests.config.test_loading import write


def test_round_trip_through_pipeline_parameter(tmp_path):
    cfg = load_config(write(tmp_path, "project: demo\ndata: {path: x.csv, target: y}\n"))
    again = config_from_dict(config_to_dict(cfg))
    assert isinstance(again, KfopsConfig)
    assert again == cfg


def test_integral_floats_in_estimator_params_become_ints(tmp_path):
    """KFP structs carry every number as a double; scikit-learn rejects n_estimators=100.0."""
    cfg = load_config(write(tmp_path, "project: demo\ndata: {path: x.csv, target: y}\n"))
    raw = config_to_dict(cfg)
    raw["model"] = {"params": {"n_estimators": 100.0, "max_features": 0.5, "grid": [1.0, 2.5]}}
    again = config_from_dict(raw)
    assert again.model.params == {"n_estimators": 100, "max_features": 0.5, "grid": [1, 2.5]}
    assert isinstance(again.model.params["n_estimators"], int)


def test_data_sections_leave_model_settings_out(tmp_path):
    """Ingest and validation get only the data sections, so their cache survives a model change."""
    cfg = load_config(write(tmp_path, "project: demo\ndata: {path: x.csv, target: y}\n"))
    data = data_config_to_dict(cfg)
    assert set(data) <= {"project", "data", "validation", "features", "runtime", "base_dir"}
    assert "model" not in data and "registry" not in data
