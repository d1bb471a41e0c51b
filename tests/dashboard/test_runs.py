"""The local runner's history read back from run folders: steps in order, durations from the
log's clock, cache hits, a failed step's one-line error, and an empty history."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from kfops.dashboard.runs import local_runs, parse_log, read_run

LOG = """\
14:12:18.002 - INFO - Executing task 'ingest'
some output of the step
14:12:19.946 - INFO - Task 'ingest' finished with status SUCCESS
14:12:19.950 - INFO - Task 'features' cache hit
14:12:20.244 - INFO - Executing task 'validate'
14:12:25.350 - INFO - Task 'validate' finished with status SUCCESS
14:12:25.354 - INFO - Executing task 'train'
"""


def write_run(state: Path, name: str, log: str, error: dict | None = None) -> Path:
    folder = state / "runs" / name
    folder.mkdir(parents=True)
    (folder / "pipeline.log").write_text(log)
    if error is not None:
        (folder / "error.json").write_text(json.dumps(error))
    return folder


def test_steps_durations_and_cache_hits_come_from_the_log() -> None:
    steps = parse_log(LOG, datetime(2026, 12, 7, 14, 12, 17))
    assert [(s.name, s.status, s.seconds) for s in steps] == [
        ("ingest", "succeeded", 1.944),
        ("features", "cached", None),
        ("validate", "succeeded", 5.106),
        ("train", "running", None),
    ]


def test_a_step_past_midnight_is_on_the_next_day() -> None:
    log = "23:59:59.500 - INFO - Executing task 'train'\n"
    log += "00:00:01.000 - INFO - Task 'train' finished with status SUCCESS\n"
    (step,) = parse_log(log, datetime(2026, 12, 7, 23, 59, 58))
    assert step.seconds == 1.5


def test_a_failed_run_names_its_step_and_one_line_error(tmp_path: Path) -> None:
    log = LOG + "14:12:30.000 - ERROR - Task 'train' finished with status FAILURE\n"
    error = {"step": "train", "type": "TrainingError", "message": "model.params: bad value"}
    run = read_run(write_run(tmp_path, "20261207-141217", log, error))
    assert run is not None and run.status == "failed"
    assert (run.error_step, run.error) == ("train", "model.params: bad value")
    assert run.steps[-1].status == "failed" and run.steps[-1].error == "model.params: bad value"
    assert run.steps[-1].seconds == 4.646


def test_runs_are_listed_newest_first_and_other_folders_ignored(tmp_path: Path) -> None:
    done = LOG.replace("14:12:25.354 - INFO - Executing task 'train'\n", "")
    write_run(tmp_path, "20261207-141217", done)
    write_run(tmp_path, "20261207-151217", LOG)
    (tmp_path / "runs" / "notes").mkdir()
    runs = local_runs(tmp_path)
    assert [(r["id"], r["status"]) for r in runs] == [
        ("20261207-151217", "incomplete"),
        ("20261207-141217", "succeeded"),
    ]
    assert runs[1]["seconds"] == 7.05 and runs[1]["started"] == "2026-12-07T14:12:17"


def test_a_project_that_never_ran_has_no_runs(tmp_path: Path) -> None:
    assert local_runs(tmp_path / "state") == []
