"""Turn the local runner's log stream into one progress event per pipeline step.

kfp.local prints task banners and the tasks' own output to stdout. The full stream goes
to a log file; the user sees a line per step (started, cached, done, failed).
"""

from __future__ import annotations

import io
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TextIO

from kfops.steps.reporting import PROGRESS_MARK

ANSI = re.compile(r"\x1b\[[0-9;]*m")
PROGRESS = re.compile(rf"{PROGRESS_MARK} ([\w-]+): (.*)$")
PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"Executing task '([\w-]+)'"), "started"),
    (re.compile(r"Task '?([\w-]+)'? cache hit"), "cached"),
    (re.compile(r"Task '([\w-]+)' finished with status SUCCESS"), "succeeded"),
    (re.compile(r"Task '([\w-]+)' finished with status FAILURE"), "failed"),
)


class StepStatus(StrEnum):
    STARTED = "started"
    CACHED = "cached"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    PROGRESS = "progress"  # a long step says what it is doing (``detail``)


@dataclass(frozen=True)
class StepEvent:
    step: str
    status: StepStatus
    seconds: float = 0.0
    detail: str = ""


def parse_line(line: str) -> tuple[str, StepStatus] | None:
    """The step event a log line announces, if any."""
    clean = ANSI.sub("", line)
    for pattern, status in PATTERNS:
        match = pattern.search(clean)
        if match:
            return match.group(1), StepStatus(status)
    return None


def step_name(task: str) -> str:
    """kfp.local names tasks like the component; strip its de-duplication suffix."""
    return re.sub(r"-\d+$", "", task)


class ProgressStream(io.TextIOBase):
    """A stdout stand-in that logs everything and reports step events."""

    def __init__(self, log: TextIO, on_event: Callable[[StepEvent], None]) -> None:
        self._log = log
        self._on_event = on_event
        self._pending = ""
        self._started: dict[str, float] = {}

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self._log.write(ANSI.sub("", text))
        self._pending += text
        *lines, self._pending = self._pending.split("\n")
        for line in lines:
            self._handle(line)
        return len(text)

    def flush(self) -> None:
        self._log.flush()

    def _handle(self, line: str) -> None:
        said = PROGRESS.search(ANSI.sub("", line))
        if said:
            step, detail = said.groups()
            now = time.monotonic()
            elapsed = now - self._started.get(step, now)
            self._on_event(StepEvent(step, StepStatus.PROGRESS, elapsed, detail.strip()))
            return
        parsed = parse_line(line)
        if parsed is None:
            return
        task, status = parsed
        now = time.monotonic()
        if status is StepStatus.STARTED:
            self._started[task] = now
        elapsed = now - self._started.pop(task, now) if status is not StepStatus.STARTED else 0.0
        self._on_event(StepEvent(step_name(task), status, elapsed))
