"""Runs on Kubeflow Pipelines (`kfops dashboard --host`) from the v2beta1 REST API (an
emulator on 127.0.0.1 answering as KFP does): the pipeline's steps without KFP's drivers and
root DAG, durations, the failed step's error, and a KFP that does not answer."""

from __future__ import annotations

import socket

import pytest

from kfops.dashboard.kfp_runs import RUNS_PATH, kfp_runs
from kfops.errors import ClusterError
from tests.support.http_server import json_server


def task(name: str, state: str, start: str, end: str, error: str = "") -> dict:
    return {"display_name": name, "state": state, "start_time": start, "end_time": end,
            **({"error": {"message": error}} if error else {})}  # fmt: skip


RUN = {
    "run_id": "run-2", "display_name": "kfops-training 2026-12-07", "state": "FAILED",
    "created_at": "2026-12-07T10:00:00Z", "finished_at": "2026-12-07T10:01:30Z",
    "run_details": {"task_details": [
        task("root", "FAILED", "2026-12-07T10:00:00Z", "2026-12-07T10:01:30Z"),
        task("ingest-driver", "SUCCEEDED", "2026-12-07T10:00:01Z", "2026-12-07T10:00:02Z"),
        task("ingest", "SKIPPED", "2026-12-07T10:00:02Z", "2026-12-07T10:00:03Z"),
        task("train", "FAILED", "2026-12-07T10:00:10Z", "2026-12-07T10:01:20Z",
             "model.params.n_estimators: must be > 0\nsecond line"),
        task("validate", "SUCCEEDED", "2026-12-07T10:00:03Z", "2026-12-07T10:00:09.500Z"),
    ]},
}  # fmt: skip


def test_runs_list_the_pipelines_steps_in_order_with_the_failure() -> None:
    asked = []

    def kfp(request):
        asked.append(request)
        return 200, {"runs": [RUN], "total_size": 1}

    with json_server(kfp) as url:
        (run,) = kfp_runs(url, "team")
    assert (asked[0].path, asked[0].query["namespace"]) == (RUNS_PATH, ["team"])
    assert asked[0].query["sort_by"] == ["created_at desc"]
    assert [(s["name"], s["status"], s["seconds"]) for s in run["steps"]] == [
        ("ingest", "skipped", 1.0), ("validate", "succeeded", 6.5), ("train", "failed", 70.0)
    ]  # fmt: skip
    assert (run["status"], run["seconds"], run["error_step"]) == ("failed", 90.0, "train")
    assert run["error"] == "model.params.n_estimators: must be > 0"


def test_a_running_run_has_no_duration_yet() -> None:
    running = {**RUN, "state": "RUNNING", "finished_at": "1970-01-01T00:00:00Z"}
    with json_server(lambda r: (200, {"runs": [running]})) as url:
        (run,) = kfp_runs(url)
    assert (run["status"], run["seconds"]) == ("running", None)


def test_no_runs_is_an_empty_list() -> None:
    with json_server(lambda r: (200, {})) as url:
        assert kfp_runs(url) == []


def test_a_kfp_that_does_not_answer_is_one_line() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(ClusterError, match=rf"KFP at http://127.0.0.1:{port}: cannot list runs"):
        kfp_runs(f"http://127.0.0.1:{port}")
    with (
        json_server(lambda r: (403, {"error": "forbidden"})) as url,
        pytest.raises(ClusterError, match="answered HTTP 403"),
    ):
        kfp_runs(url)
