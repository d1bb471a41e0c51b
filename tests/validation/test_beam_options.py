"""``validation.beam_options``: statistics through a Beam pipeline instead of in-memory frames.

The slow tests run the real TFDV runtime with Beam's multi-process local runner (two SDK
worker processes, each paying TensorFlow's import) on the bundled churn data, and compare
its statistics with the in-memory path's. The time of each path is printed (``-s``).
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import pytest

from kfops.config import (
    ValidationConfig,
    config_from_dict,
    config_to_dict,
    data_config_to_dict,
    load_config,
)
from kfops.errors import ConfigurationError, ValidationError
from kfops.validation import runtime, validate_splits
from tests.config.test_loading import write

from .conftest import CURATED_SCHEMA, REPO, write_split

CHURN_CSV = REPO / "examples" / "churn" / "data" / "churn.csv"
MULTI_PROCESS = ["--direct_running_mode=multi_processing", "--direct_num_workers=2"]
# Each SDK worker process of Beam's local runner logs this once when it starts.
HARNESS_STARTED = "Python sdk harness starting."
# TFDV's default number of top values kept per string feature.
TOP_VALUES = 20

needs_runtime = pytest.mark.skipif(
    not runtime.tfdv_importable() and not runtime.tfdv_python().is_file(),
    reason="no TFDV runtime: run `make setup` or set KFOPS_TFDV_PYTHON",
)


def config_text(options: str) -> str:
    return (
        f"project: demo\ndata: {{path: x.csv, target: y}}\nvalidation:\n  beam_options: {options}\n"
    )


@pytest.mark.parametrize(
    ("options", "index"),
    [("['--runner=FlinkRunner', 'direct_num_workers=2']", 1), ("['--runner FlinkRunner']", 0)],
)
def test_a_malformed_flag_is_a_one_line_config_error(tmp_path, options, index):
    with pytest.raises(ConfigurationError) as caught:
        load_config(write(tmp_path, config_text(options)))
    message = str(caught.value)
    assert "\n" not in message
    assert f"'validation.beam_options[{index}]'" in message
    assert "'--name=value' or '--flag'" in message


def test_flags_travel_to_the_data_steps(tmp_path):
    """The validate step reads the data sections; the flags survive the KFP struct."""
    flags = ["--runner=FlinkRunner", "--flink_master=flink:8081", "--save_main_session"]
    cfg = load_config(write(tmp_path, config_text(repr(flags))))
    data = data_config_to_dict(cfg)
    assert data["validation"]["beam_options"] == flags
    assert config_from_dict(data).validation.beam_options == flags
    assert config_from_dict(config_to_dict(cfg)).validation.beam_options == flags


def test_no_flags_by_default(tmp_path):
    cfg = load_config(write(tmp_path, "project: demo\ndata: {path: x.csv, target: y}\n"))
    assert cfg.validation.beam_options == []


def churn_request(tmp_path: Path, out: str, beam_options: list[str]) -> dict[str, Any]:
    """The worker's request for the bundled churn data, 4800 train and 1200 test rows."""
    splits = tmp_path / "splits"
    if not (splits / "test.parquet").is_file():
        write_split(CHURN_CSV, splits / "train.parquet", slice(0, 4800))
        write_split(CHURN_CSV, splits / "test.parquet", slice(4800, 6000))
    return {
        "train_path": str(splits / "train.parquet"),
        "test_path": str(splits / "test.parquet"),
        "schema_path": str(tmp_path / "no-schema" / "schema.pbtxt"),
        "out_dir": str(tmp_path / out),
        "exclude_columns": [],
        "id_columns": ["customer_id", "event_timestamp"],
        "timestamp_column": "event_timestamp",
        "min_domain_mass": 1.0,
        "max_missing_fraction": None,
        "drift_threshold": 0.2,
        "beam_options": beam_options,
    }


def summary(stats: dict[str, Any]) -> dict[str, Any]:
    """Per feature, the numbers both paths must agree on, keyed by name (order may differ).

    ``stats`` is MessageToDict's form, where zero values are left out and int64 is text.
    Top values are compared where they list the whole domain (the categorical columns).
    """
    (dataset,) = stats["datasets"]
    features: dict[str, Any] = {"num_examples": int(dataset.get("numExamples", 0))}
    for feature in dataset["features"]:
        name = feature["path"]["step"][0]
        if "numStats" in feature:
            block = feature["numStats"]
            features[name] = {
                "non_missing": int(block["commonStats"].get("numNonMissing", 0)),
                "missing": int(block["commonStats"].get("numMissing", 0)),
                **{k: float(block.get(k, 0.0)) for k in ("min", "max", "mean")},
            }
        else:
            block = feature["stringStats"]
            unique = int(block.get("unique", 0))
            top = sorted((v["value"], float(v["frequency"])) for v in block.get("topValues", []))
            features[name] = {
                "non_missing": int(block["commonStats"].get("numNonMissing", 0)),
                "missing": int(block["commonStats"].get("numMissing", 0)),
                "unique": unique,
                # Only a complete list is comparable: which of many tied ids make the top 20
                # (and their estimated counts) is up to each path's top-k sketch.
                "top": top if unique <= TOP_VALUES else None,
            }
    return features


def assert_same(left: dict[str, Any], right: dict[str, Any]) -> None:
    assert left.keys() == right.keys()
    for name, expected in left.items():
        got = right[name]
        if not isinstance(expected, dict):
            assert got == expected, name
            continue
        assert got.keys() == expected.keys(), name
        for key, value in expected.items():
            if isinstance(value, float):
                assert math.isclose(got[key], value, rel_tol=1e-9, abs_tol=1e-9), (name, key)
            else:
                assert got[key] == value, (name, key)


@needs_runtime
@pytest.mark.slow
def test_two_beam_workers_give_the_default_statistics(tmp_path, tfdv_session, capsys):
    started = time.perf_counter()
    frames = runtime.run_worker(churn_request(tmp_path, "frames", []))
    frames_s = time.perf_counter() - started
    log = tmp_path / "beam.log"
    started = time.perf_counter()
    beam = runtime.run_worker(churn_request(tmp_path, "beam", MULTI_PROCESS), log_path=log)
    beam_s = time.perf_counter() - started
    with capsys.disabled():
        print(f"\nchurn 4800+1200 rows: in-memory {frames_s:.1f} s, Beam 2 workers {beam_s:.1f} s")

    assert log.read_text().count(HARNESS_STARTED) == 2
    for split in ("train", "test"):
        assert_same(summary(frames["stats"][split]), summary(beam["stats"][split]))
    assert beam["rows"] == frames["rows"] == {"train": 4800, "test": 1200}
    assert beam["timestamp_columns"] == frames["timestamp_columns"] == ["event_timestamp"]
    # The schema inferred from the joint statistics checks the same: no anomalies either way.
    assert beam["schema_inferred"] and frames["schema_inferred"]
    assert beam["anomalies"] == frames["anomalies"]
    for split in ("train", "test"):
        assert not beam["anomalies"][split].get("anomalyInfo")


@needs_runtime
@pytest.mark.slow
def test_the_setting_reaches_the_runtime_through_validate_splits(
    tmp_path, tfdv_session, clean_splits, churn_data
):
    validation = ValidationConfig(schema_path=str(CURATED_SCHEMA), beam_options=MULTI_PROCESS)
    report = validate_splits(
        *clean_splits,
        validation,
        churn_data,
        "churn",
        str(tmp_path / "state"),
        str(tmp_path / "out"),
    )
    assert report.passed and report.rows == {"train": 240, "test": 60}
    assert report.timestamp_columns == ["event_timestamp"]
    log = (tmp_path / "out" / "tfdv_worker.log").read_text()
    assert log.count(HARNESS_STARTED) == 2


@needs_runtime
@pytest.mark.slow
@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (["--direct_num_workers=two"], "invalid int value: 'two'"),
        (["--direct_num_worker=2"], "unknown Beam option --direct_num_worker for the local runner"),
        (["--runner=FlonkRunner"], "unknown Beam runner 'FlonkRunner'"),
    ],
)
def test_a_flag_beam_rejects_is_a_one_line_error(
    tmp_path, tfdv_session, clean_splits, churn_data, flags, expected
):
    validation = ValidationConfig(schema_path=str(CURATED_SCHEMA), beam_options=flags)
    with pytest.raises(ValidationError) as caught:
        validate_splits(
            *clean_splits, validation, churn_data, "churn", str(tmp_path / "s"), str(tmp_path / "o")
        )
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("validation.beam_options: ") and expected in message
