"""What a tuning run found: one record per trial, the best one, and the trial table.

Trial states use Katib's names, so a table from the embedded tuner and one read back
from a Katib Experiment look the same.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from kfops.metrics import Direction


class TrialState(StrEnum):
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    EARLY_STOPPED = "EarlyStopped"
    RUNNING = "Running"
    KILLED = "Killed"


@dataclass
class TrialRecord:
    number: int
    name: str
    assignments: dict[str, str]
    state: TrialState
    value: float | None = None
    intermediate: list[float] = field(default_factory=list)
    seconds: float | None = None
    error: str = ""


@dataclass
class TuningResult:
    backend: str
    metric: str
    direction: Direction
    best_params: dict[str, Any]
    best_value: float
    best_trial: str
    trials: list[TrialRecord]
    stopped: str = ""
    """Why tuning ended before max_trial_count: "goal", "timeout" or ""."""

    def count(self, state: TrialState) -> int:
        return sum(record.state is state for record in self.trials)


def best_record(records: list[TrialRecord], direction: Direction) -> TrialRecord | None:
    """The succeeded trial with the best value; the earliest one wins a tie."""
    done = [r for r in records if r.state is TrialState.SUCCEEDED and r.value is not None]
    if not done:
        return None
    sign = 1.0 if direction is Direction.MAXIMIZE else -1.0
    return max(done, key=lambda r: (sign * (r.value or 0.0), -r.number))


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value).replace("|", "\\|").replace("\n", " ")


def trials_markdown(result: TuningResult) -> str:
    """The trial table as Markdown, best trial marked, for KFP's Markdown visualization."""
    names = sorted({name for r in result.trials for name in r.assignments})
    header = ["trial", "state", *names, result.metric, "seconds", "note"]
    lines = [
        f"# Tuning: {result.metric} ({result.direction}), backend {result.backend}",
        "",
        f"Best {result.metric} = {result.best_value:.4f} from {result.best_trial}: "
        + ", ".join(f"{k}={v}" for k, v in result.best_params.items()),
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
    ]
    for r in sorted(result.trials, key=lambda r: r.number):
        note = "best" if r.name == result.best_trial else r.error
        cells = [r.name, r.state.value, *(r.assignments.get(n) for n in names), r.value]
        cells += [None if r.seconds is None else f"{r.seconds:.1f}", note]
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    if result.stopped:
        lines += ["", f"Stopped early: {result.stopped}."]
    return "\n".join(lines) + "\n"


def trials_rows(result: TuningResult) -> list[dict[str, Any]]:
    return [{**asdict(r), "state": r.state.value} for r in result.trials]
