"""The embedded tuner on a 1500-row slice of the churn example, 20-tree forests."""

from __future__ import annotations

import copy
import os
import time
from pathlib import Path

import pandas as pd
import pytest

from kfops.config import TaskType
from kfops.errors import TrainingError
from kfops.tuning import local
from kfops.tuning.objective import cross_validate
from kfops.tuning.results import TrialRecord, TrialState, trials_markdown
from tests.tuning.conftest import TUNING, churn_config

CLASSIFICATION = TaskType.CLASSIFICATION


def spec(**changes) -> dict:
    tuning = copy.deepcopy(TUNING)
    tuning.update(changes)
    return tuning


def tune(tmp_path: Path, churn_train: str, tuning: dict, records: list | None = None):
    cfg = churn_config(tuning)
    on_trial = records.append if records is not None else None
    return local.tune_locally(cfg, churn_train, CLASSIFICATION, str(tmp_path), on_trial, False)


@pytest.mark.slow
def test_tuning_finds_params_at_least_as_good_as_the_defaults(tmp_path, churn_train):
    tuning = spec(algorithm={"name": "tpe", "settings": {"n_startup_trials": 3, "random_state": 1}})
    tuning["max_trial_count"] = 6
    records: list[TrialRecord] = []
    result = tune(tmp_path, churn_train, tuning, records)
    cfg, frame = churn_config(tuning), pd.read_parquet(churn_train)
    default = cross_validate(frame, cfg, CLASSIFICATION, "roc_auc", {})
    assert result.best_value >= default.value
    assert len(result.trials) == len(records) == 6
    assert all(r.state is TrialState.SUCCEEDED for r in result.trials)
    rescored = cross_validate(frame, cfg, CLASSIFICATION, "roc_auc", result.best_params)
    assert rescored.value == pytest.approx(result.best_value)  # best_params mean what they scored
    assert set(result.best_params) == {"max_depth", "min_samples_leaf", "max_features"}
    assert "| best |" in trials_markdown(result)


@pytest.mark.slow
def test_a_trial_that_raises_is_counted_and_tuning_goes_on(tmp_path, churn_train):
    tuning = spec(max_trial_count=6, max_failed_trial_count=5)
    tuning["parameters"][2]["feasible_space"]["list"] = ["sqrt", "bogus"]
    records: list[TrialRecord] = []
    result = tune(tmp_path, churn_train, tuning, records)
    failed = [r for r in records if r.state is TrialState.FAILED]
    assert len(records) == 6 and failed and len(failed) < 6
    assert all(r.assignments["max_features"] == "bogus" for r in failed)
    assert "max_features" in failed[0].error and result.best_params["max_features"] == "sqrt"


def test_more_failures_than_the_limit_stop_tuning(tmp_path, churn_train):
    tuning = spec(parallel_trial_count=1, max_trial_count=4, max_failed_trial_count=1)
    tuning["parameters"][2]["feasible_space"]["list"] = ["bogus"]
    records: list[TrialRecord] = []
    with pytest.raises(
        TrainingError,
        match=r"tuning stopped: more trials failed than tuning\.max_failed_trial_count=1 "
        r"\(2 trials failed, last: model\.params: .*max_features",
    ):
        tune(tmp_path, churn_train, tuning, records)
    assert [r.state for r in records] == [TrialState.FAILED] * 2  # the limit + 1, then stop


def test_reaching_the_goal_stops_tuning(tmp_path, churn_train):
    tuning = spec(parallel_trial_count=1, objective={"metric": "roc_auc", "goal": 0.5})
    result = tune(tmp_path, churn_train, tuning)
    assert len(result.trials) == 1 and result.stopped == "goal"


@pytest.mark.slow
@pytest.mark.skipif(local.START_METHOD != "fork", reason="the probe reaches workers by fork")
def test_parallel_two_runs_trials_in_two_processes_at_once(tmp_path, churn_train, monkeypatch):
    log = tmp_path / "spans.txt"
    real = local.cross_validate

    def probe(*args, **kwargs):  # inherited by the forked workers
        started = time.monotonic()
        try:
            return real(*args, **kwargs)
        finally:
            with open(log, "a") as out:
                out.write(f"{os.getpid()} {started} {time.monotonic()}\n")

    monkeypatch.setattr(local, "cross_validate", probe)
    result = tune(tmp_path, churn_train, spec(parallel_trial_count=2, max_trial_count=4))
    spans = [line.split() for line in log.read_text().splitlines()]
    assert len(result.trials) == len(spans) == 4
    assert len({pid for pid, _, _ in spans}) == 2
    ordered = sorted((float(a), float(b)) for _, a, b in spans)
    assert any(ordered[i + 1][0] < ordered[i][1] for i in range(3))  # some trials overlapped
    assert os.getpid() not in {int(pid) for pid, _, _ in spans}


@pytest.mark.slow
def test_medianstop_stops_trials_after_a_fold(tmp_path, churn_train):
    tuning = spec(
        parallel_trial_count=1,
        max_trial_count=6,
        early_stopping={"name": "medianstop", "min_trials_required": 1, "start_step": 1},
    )
    result = tune(tmp_path, churn_train, tuning)
    stopped = [r for r in result.trials if r.state is TrialState.EARLY_STOPPED]
    assert stopped and all(len(r.intermediate) < 3 for r in stopped)
    assert result.best_trial not in {r.name for r in stopped}
    assert (tmp_path / local.JOURNAL_FILE).is_file()


@pytest.mark.slow
def test_grid_in_parallel_visits_each_point_once(tmp_path, churn_train):
    tuning = spec(
        algorithm={"name": "grid"},
        max_trial_count=4,
        parameters=[
            {"name": "max_depth", "type": "int", "feasible_space": {"min": 2, "max": 5}},
            {"name": "max_features", "type": "categorical", "feasible_space": {"list": ["sqrt"]}},
        ],
    )
    result = tune(tmp_path, churn_train, tuning)
    assert sorted(r.assignments["max_depth"] for r in result.trials) == ["2", "3", "4", "5"]


def test_the_timeout_starts_no_new_trials(tmp_path, churn_train):
    tuning = spec(parallel_trial_count=1, max_trial_count=12, timeout_seconds=1)
    result = tune(tmp_path, churn_train, tuning)
    assert 1 <= len(result.trials) < 12 and result.stopped == "timeout"
