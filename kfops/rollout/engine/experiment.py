"""The A/B ``experiment`` step of the rollout engine: its comparison queries, recording their
answers, and the decision (candidate better: go on; worse: abort; undecided: the step's
``onInconclusive``). The statistics are in :mod:`kfops.rollout.engine.abtest`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from kfops.config.rollout import RolloutSpec, parse_duration
from kfops.rollout.engine import abtest
from kfops.rollout.engine.actions import VARIANTS
from kfops.rollout.engine.analysis import (
    ERROR_RETRY_SECONDS,
    Measurement,
    MeasurementRequest,
    abort,
    base_values,
    expand,
    traffic_target,
)
from kfops.rollout.engine.status import PauseReason, RolloutStatus
from kfops.rollout.engine.tick import Tick, experiment_name, pause, steps_of

EXPERIMENT_ERROR_LIMIT = 4
"""Comparison rounds in a row that may fail before the experiment aborts the rollout."""

COMPARISON_QUERIES = {
    "two-proportion-z": ("success", "total"),
    "welch-t": ("mean", "variance", "count"),
}
"""The figures each test needs, one query per figure and variant."""


def comparison_requests(spec: RolloutSpec, index: int, where: str) -> list[MeasurementRequest]:
    """Every query of the experiment at step ``index``, for both variants."""
    experiment = steps_of(spec)[index].experiment
    assert experiment is not None
    comparison = experiment.comparison
    requests = []
    for query_name in COMPARISON_QUERIES[comparison.test]:
        query = getattr(comparison, f"{query_name}_query")
        for variant in VARIANTS:
            values = {**base_values(spec), "variant": variant}
            requests.append(
                MeasurementRequest(
                    run=experiment_name(index),
                    metric=f"{query_name}.{variant}",
                    query=expand(query, values, f"{where}.experiment.comparison"),
                    address=spec.prometheus.address,
                    timeout=10.0,
                )
            )
    return requests


def due_comparisons(
    spec: RolloutSpec, status: RolloutStatus, now: float
) -> list[MeasurementRequest]:
    """The comparison queries still missing, once the running experiment's duration has
    passed (and, after a failed round, the retry wait)."""
    experiment = status.experiment
    if (
        experiment is None
        or experiment.decision is not None
        or experiment.step_index != status.current_step_index
        or status.step_started_at is None
    ):
        return []
    step = steps_of(spec)[experiment.step_index].experiment
    assert step is not None
    ready = now >= experiment.started_at + parse_duration(step.duration)
    retry_wait = experiment.consecutive_errors == 0 or (
        experiment.last_attempt_at is not None
        and now >= experiment.last_attempt_at + ERROR_RETRY_SECONDS
    )
    if not (ready and retry_wait):
        return []
    where = f"strategy.canary.steps[{experiment.step_index}]"
    return [
        request
        for request in comparison_requests(spec, experiment.step_index, where)
        if request.metric not in experiment.values
    ]


def _experiment_value(value: float | Sequence[float] | None) -> tuple[float | None, str]:
    if value is None:
        return None, "the query gave no value"
    if not isinstance(value, int | float):
        values = list(value)
        if len(values) != 1:
            return None, f"the query gave {len(values)} series; aggregate it to one with sum()"
        value = values[0]
    if not math.isfinite(value):
        return None, f"the query gave {value}"
    return float(value), ""


def record_experiment(
    spec: RolloutSpec, status: RolloutStatus, answers: list[Measurement], tick: Tick
) -> None:
    """Keep the answers; when every figure is in, compare and decide (aborting or pausing
    the rollout as the outcome says)."""
    experiment = status.experiment
    if experiment is None or not answers:
        return
    errors = []
    for answer in answers:
        value, problem = _experiment_value(answer.value)
        if isinstance(answer.value, list) and not answer.value:
            variant = answer.metric.rsplit(".", 1)[-1]
            problem = (
                f"no traffic: the query returned no samples for {variant}; send requests to "
                f"{traffic_target(spec)}"
            )
        if answer.error is not None or value is None:
            errors.append(f"{answer.metric}: {answer.error or problem}")
        else:
            experiment.values[answer.metric] = value
    experiment.attempts += 1
    experiment.last_attempt_at = tick.now
    if errors:
        experiment.consecutive_errors += 1
        experiment.last_error = "; ".join(errors)
        tick.events.append(
            f"experiment {experiment.step_index + 1}: comparison query failed "
            f"({experiment.consecutive_errors} in a row): {experiment.last_error}"
        )
        if experiment.consecutive_errors > EXPERIMENT_ERROR_LIMIT:
            abort(
                spec,
                status,
                f"experiment comparison failed {experiment.consecutive_errors} times in a row:"
                f" {experiment.last_error}",
                tick,
            )
        return
    experiment.consecutive_errors = 0
    experiment.last_error = None
    step = steps_of(spec)[experiment.step_index].experiment
    assert step is not None
    needed = [f"{q}.{v}" for q in COMPARISON_QUERIES[step.comparison.test] for v in VARIANTS]
    if any(name not in experiment.values for name in needed):
        return
    result = compare(step.comparison, experiment.values)
    experiment.result = result
    tick.events.append(f"experiment {experiment.step_index + 1}: {result.message}")
    if result.decision == abtest.CANDIDATE_BETTER:
        experiment.decision = "continue"
    elif result.decision == abtest.CANDIDATE_WORSE:
        experiment.decision = "abort"
        abort(spec, status, f"experiment: {result.message}", tick)
    else:
        choice = step.comparison.on_inconclusive
        experiment.decision = {"promote": "continue", "abort": "abort", "pause": "pause"}[choice]
        if choice == "abort":
            abort(spec, status, f"experiment inconclusive: {result.message}", tick)
        elif choice == "pause":
            pause(
                status,
                PauseReason.INCONCLUSIVE,
                tick,
                result.message,
                run=experiment_name(experiment.step_index),
            )


def compare(comparison: Any, values: dict[str, float]) -> abtest.ComparisonResult:
    """Run the comparison's test on figures named ``<query>.<variant>``."""
    if comparison.test == "two-proportion-z":
        return abtest.compare_proportions(
            values["success.stable"],
            values["total.stable"],
            values["success.candidate"],
            values["total.candidate"],
            alpha=comparison.alpha,
            higher_is_better=comparison.higher_is_better,
            metric=comparison.metric,
        )
    return abtest.compare_means(
        values["mean.stable"],
        values["variance.stable"],
        values["count.stable"],
        values["mean.candidate"],
        values["variance.candidate"],
        values["count.candidate"],
        alpha=comparison.alpha,
        higher_is_better=comparison.higher_is_better,
        metric=comparison.metric,
    )
