"""The persisted status of a rollout: where it is, what traffic it applied, what it measured.

One shape for the local JSON state file and for a ModelRollout's ``status`` in the cluster.
Field names are camelCase on the wire, as in :mod:`kfops.config.rollout`. Times are unix
seconds (floats), so the engine can be driven with explicit clocks in tests. Non-finite
measurement values are written as the strings ``"NaN"`` and ``"Infinity"`` (JSON has no
such numbers) and read back as floats.
"""

from __future__ import annotations

import hashlib
import json
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from kfops.config.rollout import RolloutSpec, Spec
from kfops.rollout.engine.abtest import ComparisonResult

BACKGROUND_RUN = "background"


class RolloutPhase(StrEnum):
    PROGRESSING = "Progressing"
    PAUSED = "Paused"
    HEALTHY = "Healthy"  # every step done, candidate at 100 % and champion
    DEGRADED = "Degraded"  # aborted, or rolled back by undo


class AnalysisPhase(StrEnum):
    PENDING = "Pending"
    RUNNING = "Running"
    SUCCESSFUL = "Successful"
    FAILED = "Failed"
    ERROR = "Error"
    INCONCLUSIVE = "Inconclusive"

    @property
    def completed(self) -> bool:
        return self not in (AnalysisPhase.PENDING, AnalysisPhase.RUNNING)


# Argo's order of badness (analysisutil.IsWorse): a run takes its worst metric's phase.
PHASE_SEVERITY = {
    AnalysisPhase.PENDING: 0,
    AnalysisPhase.RUNNING: 1,
    AnalysisPhase.SUCCESSFUL: 2,
    AnalysisPhase.INCONCLUSIVE: 3,
    AnalysisPhase.ERROR: 4,
    AnalysisPhase.FAILED: 5,
}


class PauseReason(StrEnum):
    PAUSED_BY_STEP = "PausedByStep"  # a pause step (timed or until promote)
    INCONCLUSIVE = "Inconclusive"  # an analysis or experiment could not decide
    USER_PAUSED = "UserPaused"  # `rollout pause`
    MANUAL_WEIGHT = "ManualWeight"  # `rollout set-weight N` holds the weight until resume


class Status(Spec):
    """Status models: camelCase like the spec, but unknown keys are ignored, because a
    status may have been written by another kfops version."""

    model_config = ConfigDict(
        **{**Spec.model_config, "extra": "ignore"}, ser_json_inf_nan="strings"
    )


Value = float | list[float]


class PauseCondition(Status):
    reason: PauseReason
    start_time: float
    message: str = ""
    run: str | None = Field(None, description="The analysis run or experiment that paused it.")


class MeasurementStatus(Status):
    value: Value | None = None
    phase: AnalysisPhase
    started_at: float
    finished_at: float
    message: str = ""


MEASUREMENT_HISTORY_LIMIT = 10
"""Measurements kept per metric (Argo keeps 10); the counters keep the totals."""


class MetricResult(Status):
    name: str
    phase: AnalysisPhase = AnalysisPhase.PENDING
    count: int = Field(0, description="Measurements that gave a verdict (errors excluded).")
    successful: int = 0
    failed: int = 0
    inconclusive: int = 0
    error: int = 0
    consecutive_error: int = 0
    measurements: list[MeasurementStatus] = Field(default_factory=list)
    message: str = ""

    @property
    def taken(self) -> int:
        return self.count + self.error


class AnalysisRunStatus(Status):
    """One run of an analysis: ``step-<i>`` for the analysis step at index i, or
    ``background`` for the canary's background analysis."""

    name: str
    step_index: int | None = Field(None, description="None for the background run.")
    phase: AnalysisPhase = AnalysisPhase.PENDING
    started_at: float
    finished_at: float | None = None
    message: str = ""
    metric_results: list[MetricResult] = Field(default_factory=list)

    def result(self, metric: str) -> MetricResult | None:
        return next((r for r in self.metric_results if r.name == metric), None)


class ExperimentStatus(Status):
    step_index: int
    started_at: float
    values: dict[str, float] = Field(
        default_factory=dict, description="Comparison figures by '<query>.<variant>'."
    )
    attempts: int = 0
    consecutive_errors: int = 0
    last_attempt_at: float | None = None
    last_error: str | None = None
    result: ComparisonResult | None = None
    decision: str | None = Field(None, description="continue, abort or pause.")


class RolloutStatus(Status):
    phase: RolloutPhase = RolloutPhase.PROGRESSING
    message: str = ""
    current_step_index: int = 0
    step_started_at: float | None = Field(None, description="None: step not entered yet.")
    canary_weight: int = Field(0, description="Last applied candidate weight.")
    mirror_percent: int = Field(0, description="Last applied mirror percentage.")
    sticky_header: str | None = None
    sticky_field: str | None = None
    traffic_applied: bool = Field(False, description="The traffic fields were emitted once.")
    manual_weight: int | None = Field(None, description="Set by set-weight; held until resume.")
    pause_conditions: list[PauseCondition] = Field(default_factory=list)
    controller_pause: bool = False
    abort: bool = False
    aborted_at: float | None = None
    promote_full: bool = False
    analysis_runs: list[AnalysisRunStatus] = Field(default_factory=list)
    experiment: ExperimentStatus | None = None
    alias_moved: bool = False
    rolled_back: bool = False
    previous_champion: str | None = None
    completed_at: float | None = None
    updated_at: float | None = None
    spec_fingerprint: str = ""
    candidate_version: str = ""
    gate_decision: str | None = Field(
        None,
        description=(
            "The training gate's decision on the candidate when the rollout started "
            "(promote: it beat the champion; keep: it lost); None when it had none."
        ),
    )
    gate_forced: bool = Field(
        False, description="Started with --force although the gate did not pass the candidate."
    )

    @classmethod
    def initial(
        cls, spec: RolloutSpec, gate_decision: str | None = None, gate_forced: bool = False
    ) -> RolloutStatus:
        """The status of a rollout that has not taken its first step."""
        return cls(
            spec_fingerprint=spec_fingerprint(spec),
            candidate_version=spec.candidate.version,
            gate_decision=gate_decision,
            gate_forced=gate_forced,
            message="waiting for the first reconcile",
        )

    def run(self, name: str) -> AnalysisRunStatus | None:
        return next((run for run in self.analysis_runs if run.name == name), None)

    def paused_for(self, reason: PauseReason) -> PauseCondition | None:
        return next((c for c in self.pause_conditions if c.reason == reason), None)

    def to_json_dict(self) -> dict[str, Any]:
        """Plain JSON data (camelCase, non-finite values as strings) for a file or a CR."""
        return json.loads(self.model_dump_json(by_alias=True))


def spec_fingerprint(spec: RolloutSpec) -> str:
    """A short digest of what defines a rollout (model, versions, steps, templates; not
    ``paused``, Prometheus or the traffic backend), so a status can tell that its spec was
    edited under it."""
    defining = spec.model_dump(
        mode="json",
        by_alias=True,
        include={"model", "stable", "candidate", "strategy", "analysis_templates"},
    )
    digest = hashlib.sha256(json.dumps(defining, sort_keys=True).encode()).hexdigest()
    return digest[:16]


class HistoryPoint(BaseModel):
    """One moment of the rollout, appended when traffic, step or phase change."""

    time: float
    step: int
    candidate_weight: int
    mirror_percent: int
    phase: str
    note: str = ""
