"""The steps' typed results: what each holds, the struct it hands on, and failure reports."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pandas as pd
import pytest

from kfops.config import TaskType
from kfops.errors import ConfigurationError, PipelineError
from kfops.steps import results
from kfops.steps.ingest import run_ingest
from kfops.steps.reporting import ERROR_FILE_ENV, StepFailure, read_error, reported
from kfops.steps.validate import run_validate


def churn_config(repo: Path, tmp_path: Path, **sections) -> dict:
    return {
        "project": "churn",
        "data": {"path": str(repo / "tests" / "fixtures" / "churn_small.csv"), "target": "churned"},
        "runtime": {"root": str(tmp_path / "state")},
        **sections,
    }


def test_ingest_returns_the_summary_and_hands_on_the_same_struct(repo, tmp_path):
    train, test = str(tmp_path / "train.parquet"), str(tmp_path / "test.parquet")
    result = run_ingest(churn_config(repo, tmp_path), train, test)
    assert isinstance(result, results.IngestResult)
    summary = result.summary
    assert (summary.rows, summary.columns, summary.task) == (300, 13, TaskType.CLASSIFICATION)
    assert (
        summary.train_rows + summary.test_rows
        == 300
        == len(pd.read_parquet(train)) + len(pd.read_parquet(test))
    )
    struct = result.to_dict()
    assert json.loads(json.dumps(struct)) == struct  # a KFP struct output as it is
    assert struct["task"] == "classification" and type(struct["task"]) is str
    assert set(struct) == {f.name for f in dataclasses.fields(summary)}
    assert struct["digest"] == summary.digest and struct["train_rows"] == summary.train_rows


def test_validation_off_is_a_skipped_result(repo, tmp_path):
    config = churn_config(repo, tmp_path, validation={"enabled": False})
    result = run_validate(config, "unused.parquet", "unused.parquet", str(tmp_path / "out"))
    assert result == results.ValidateResult(report=None)
    assert result.skipped and result.statistics_html == ""
    assert result.to_dict() == {"skipped": True} == result.artifact_metadata()


def test_features_skipped_hands_on_only_what_happened():
    result = results.FeaturesResult(skipped=True, seconds=0.25)
    assert result.to_dict() == {"skipped": True, "seconds": 0.25}


@pytest.mark.parametrize(
    "result",
    [
        results.TrainResult(run_id="r", model_uri="models:/m-1"),
        results.PromoteResult(version="2", previous="1"),
        results.DeployResult(name="churn", namespace="team", url="http://churn", version="2"),
        results.FeaturesResult(skipped=True, seconds=0.0),
        results.ValidateResult(report=None),
    ],
    ids=lambda r: type(r).__name__,
)
def test_results_are_frozen(result):
    field = dataclasses.fields(result)[0].name
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(result, field, "changed")


def test_every_step_result_is_a_frozen_dataclass():
    types = [
        value
        for name, value in vars(results).items()
        if name.endswith("Result") and isinstance(value, type)
    ]
    assert {t.__name__ for t in types} == {
        "IngestResult",
        "FeaturesResult",
        "ValidateResult",
        "TuneResult",
        "TrainResult",
        "EvaluateResult",
        "RegisterResult",
        "PromoteResult",
        "DeployResult",
    }
    assert all(dataclasses.is_dataclass(t) and t.__dataclass_params__.frozen for t in types)


def test_a_failing_step_reports_its_own_error_to_the_runner(tmp_path, monkeypatch):
    file = tmp_path / "error.json"
    monkeypatch.setenv(ERROR_FILE_ENV, str(file))
    with pytest.raises(ConfigurationError), reported("tune"):
        raise ConfigurationError("tuning.backend: unknown type 'ray'")
    failure = read_error(file)
    assert failure == StepFailure(
        "tune", "ConfigurationError", "tuning.backend: unknown type 'ray'"
    )
    assert type(failure.error()) is ConfigurationError  # so the runner exits with its code


def test_an_unexpected_failure_is_reported_on_one_line(tmp_path, monkeypatch):
    file = tmp_path / "error.json"
    monkeypatch.setenv(ERROR_FILE_ENV, str(file))
    with pytest.raises(ValueError), reported("train"):
        raise ValueError("could not convert 'x'\n  at row 3")
    failure = read_error(file)
    assert failure is not None and failure.type == "PipelineError"
    assert failure.message == "train: ValueError: could not convert 'x'"
    assert isinstance(failure.error(), PipelineError)


def test_an_unreadable_error_file_is_no_failure(tmp_path):
    assert read_error(tmp_path / "missing.json") is None
    (tmp_path / "partial.json").write_text('{"step": "train"}')
    assert read_error(tmp_path / "partial.json") is None
