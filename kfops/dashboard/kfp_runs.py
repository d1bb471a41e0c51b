"""Pipeline runs on Kubeflow Pipelines (``kfops dashboard --host``), in the local history's shape.

One ``GET /apis/v2beta1/runs`` (newest first) with a short timeout: the page asks every few
seconds, and kfp.Client's health check retries for 25 s before it fails. Each run's
``run_details.task_details`` lists the steps; KFP adds a driver task per step and a root
DAG, which are not steps of the pipeline and are left out. KFP reports a step it did not
run (a cache hit, a branch not taken) as SKIPPED.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx

from kfops.errors import ClusterError, one_line

RUNS_PATH = "/apis/v2beta1/runs"
STATES = {
    "SUCCEEDED": "succeeded",
    "FAILED": "failed",
    "SKIPPED": "skipped",
    "CANCELED": "failed",
    "CANCELING": "failed",
}
"""KFP's runtime states as the page's; anything else (PENDING, RUNNING, PAUSED) is running."""


def _time(text: str | None) -> datetime | None:
    if not text or text.startswith("1970-01-01"):  # KFP's zero time: not finished
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _seconds(start: str | None, end: str | None) -> float | None:
    began, ended = _time(start), _time(end)
    return round((ended - began).total_seconds(), 3) if began and ended else None


def _is_step(task: dict[str, Any]) -> bool:
    name = str(task.get("display_name") or "")
    return bool(name) and name != "root" and not name.endswith("-driver")


def run_record(run: dict[str, Any]) -> dict[str, Any]:
    """One KFP run as a history entry (see :mod:`kfops.dashboard.runs`)."""
    tasks = (run.get("run_details") or {}).get("task_details") or []
    steps = [
        {
            "name": str(task["display_name"]),
            "status": STATES.get(str(task.get("state")), "running"),
            "seconds": _seconds(task.get("start_time"), task.get("end_time")),
            "error": one_line(str((task.get("error") or {}).get("message") or "")),
        }
        for task in sorted(tasks, key=lambda t: str(t.get("start_time") or t.get("create_time")))
        if _is_step(task)
    ]
    error = str((run.get("error") or {}).get("message") or "")
    failed = next((s for s in steps if s["status"] == "failed"), None)
    return {
        "id": str(run.get("run_id", "")),
        "name": str(run.get("display_name", "")),
        "started": str(run.get("created_at", "")),
        "status": STATES.get(str(run.get("state")), "running"),
        "seconds": _seconds(run.get("created_at"), run.get("finished_at")),
        "steps": steps,
        "error": one_line(error) if error else (failed["error"] if failed else ""),
        "error_step": failed["name"] if failed else "",
    }


def kfp_runs(
    host: str, namespace: str | None = None, limit: int = 20, timeout: float = 5.0
) -> list[dict[str, Any]]:
    """The newest ``limit`` runs on ``host``; ClusterError (one line) when KFP cannot answer."""
    params = {"page_size": str(limit), "sort_by": "created_at desc"}
    if namespace:
        params["namespace"] = namespace
    try:
        response = httpx.get(host.rstrip("/") + RUNS_PATH, params=params, timeout=timeout)
    except httpx.HTTPError as exc:
        raise ClusterError(f"KFP at {host}: cannot list runs ({one_line(exc)})") from exc
    if response.status_code != 200:
        raise ClusterError(
            f"KFP at {host}: listing runs answered HTTP {response.status_code} "
            f"({one_line(response.text[:200])}); check --host and the namespace"
        )
    return [run_record(run) for run in response.json().get("runs") or []]
