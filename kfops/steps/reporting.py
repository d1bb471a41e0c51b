"""Carry a step's failure back to the process that launched the pipeline.

KFP reports only "task failed"; the runner needs the one-line reason. A step that fails
writes its error as JSON to ``$KFOPS_ERROR_FILE`` (set by the local runner) and then
fails as usual, so in a cluster the reason is the last line of the pod's log.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from kfops.errors import KfopsError, PipelineError, error_from_name, one_line

ERROR_FILE_ENV = "KFOPS_ERROR_FILE"
PROGRESS_MARK = "kfops-progress"


def progress(step: str, message: str) -> None:
    """Say what a long step is doing now, on a line of its own: the local runner shows it
    while the step runs (a cluster keeps it in the pod's log)."""
    print(f"{PROGRESS_MARK} {step}: {message}", flush=True)


@dataclass(frozen=True)
class StepFailure:
    """A step's error as it crosses the process boundary: the step, class name and message."""

    step: str
    type: str
    message: str

    def error(self) -> KfopsError:
        """The same error class again, so the runner exits with the step's own code."""
        return error_from_name(self.type, self.message)


def write_error(step: str, error: KfopsError) -> None:
    target = os.environ.get(ERROR_FILE_ENV)
    if not target:
        return
    Path(target).parent.mkdir(parents=True, exist_ok=True)
    failure = StepFailure(step=step, type=type(error).__name__, message=error.message)
    Path(target).write_text(json.dumps(asdict(failure)))


def read_error(path: str | Path) -> StepFailure | None:
    """The failure a step wrote, or None when there is none (or it is unreadable)."""
    file = Path(path)
    if not file.is_file():
        return None
    try:
        payload = json.loads(file.read_text())
        return StepFailure(str(payload["step"]), str(payload["type"]), str(payload["message"]))
    except (json.JSONDecodeError, KeyError, TypeError):
        return None


@contextmanager
def reported(step: str) -> Iterator[None]:
    """Record a failure of ``step`` for the runner, then let it fail the task."""
    try:
        yield
    except KfopsError as exc:
        write_error(step, exc)
        print(f"kfops: {step} failed: {exc.message}", file=sys.stderr)
        raise
    except Exception as exc:
        wrapped = PipelineError(one_line(f"{step}: {type(exc).__name__}: {exc}"))
        write_error(step, wrapped)
        raise
