"""The local runner's history: one entry per ``<runtime.root>/runs/<time>/`` folder.

A run folder holds kfp.local's log (``pipeline.log``) and, when a step failed, the step's
error (``error.json``, :mod:`kfops.steps.reporting`). The log's task lines carry a clock
time (``14:12:18.002 - INFO - Executing task 'ingest'``) and the folder's name the date
(``20261207-141217``), so each step's duration is its finish time minus its start time.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from kfops.runners.progress import StepStatus, parse_line, step_name
from kfops.steps.reporting import read_error

LOG_FILE = "pipeline.log"
ERROR_FILE = "error.json"
RUN_FOLDER = re.compile(r"^(\d{8}-\d{6})(-\d+)?$")
CLOCK = re.compile(r"^(\d{2}):(\d{2}):(\d{2})\.(\d{3})\b")


@dataclass
class StepRecord:
    """One step of a run: ``succeeded``, ``cached``, ``failed`` or ``running`` (started,
    no end line: still running, or the run was interrupted)."""

    name: str
    status: str
    seconds: float | None = None
    error: str = ""


@dataclass
class RunRecord:
    id: str
    started: str
    status: str  # succeeded, failed, incomplete
    seconds: float | None
    steps: list[StepRecord] = field(default_factory=list)
    error: str = ""
    error_step: str = ""


def _clock(line: str, day: datetime) -> datetime | None:
    """The line's time on the run's day; a clock earlier than the start is the next day."""
    match = CLOCK.match(line)
    if match is None:
        return None
    hours, minutes, seconds, millis = (int(part) for part in match.groups())
    moment = day.replace(hour=hours, minute=minutes, second=seconds, microsecond=millis * 1000)
    return moment + timedelta(days=1) if moment < day else moment


def parse_log(text: str, started: datetime) -> list[StepRecord]:
    """Steps in the order they started (or hit the cache), with their durations."""
    steps: dict[str, StepRecord] = {}
    began: dict[str, datetime] = {}
    for line in text.splitlines():
        parsed = parse_line(line)
        if parsed is None:
            continue
        task, status = parsed
        name = step_name(task)
        moment = _clock(line, started)
        if status is StepStatus.STARTED:
            steps[name] = StepRecord(name, "running")
            if moment is not None:
                began[name] = moment
            continue
        record = steps.setdefault(name, StepRecord(name, status.value))
        record.status = status.value
        if status is not StepStatus.CACHED and moment is not None and name in began:
            record.seconds = round((moment - began[name]).total_seconds(), 3)
    return list(steps.values())


def read_run(folder: Path) -> RunRecord | None:
    """One run folder as a record, or None when the folder is not a run's."""
    match = RUN_FOLDER.match(folder.name)
    if match is None or not folder.is_dir():
        return None
    started = datetime.strptime(match.group(1), "%Y%m%d-%H%M%S")
    log = folder / LOG_FILE
    text = log.read_text(encoding="utf-8", errors="replace") if log.is_file() else ""
    steps = parse_log(text, started)
    failure = read_error(folder / ERROR_FILE)
    if failure is not None:
        step = next((s for s in steps if s.name == step_name(failure.step)), None)
        if step is None:
            step = StepRecord(step_name(failure.step), "failed")
            steps.append(step)
        step.status, step.error = "failed", failure.message
    if failure is not None or any(s.status == "failed" for s in steps):
        status = "failed"
    elif steps and all(s.status in ("succeeded", "cached") for s in steps):
        status = "succeeded"
    else:
        status = "incomplete"
    timed = [s.seconds for s in steps if s.seconds is not None]
    return RunRecord(
        id=folder.name,
        started=started.isoformat(),
        status=status,
        seconds=round(sum(timed), 3) if timed else None,
        steps=steps,
        error=failure.message if failure else "",
        error_step=step_name(failure.step) if failure else "",
    )


def local_runs(state_dir: Path, limit: int = 20) -> list[dict[str, Any]]:
    """The newest ``limit`` runs, newest first; ``[]`` when the project never ran."""
    folder = Path(state_dir) / "runs"
    if not folder.is_dir():
        return []
    records = (read_run(path) for path in sorted(folder.iterdir(), reverse=True))
    found = [asdict(record) for record in records if record is not None]
    return found[:limit]
