"""The rollout engine: Argo Rollouts' canary state machine as pure functions.

Nothing here does I/O. A driver (the local controller or the operator) runs one tick as::

    requests = due_measurements(spec, status, now)          # what to ask Prometheus
    measurements = [...]                                     # its answers, errors included
    decision = reconcile(spec, status, now, measurements)    # new status, actions, events
    carry out decision.actions, then persist decision.status

and a user's command as ``apply_command(spec, status, "promote", now)``.

Semantics (Argo's, unless noted):

* Steps run in order. ``setWeight`` and ``setMirror`` take effect at once; ``pause`` waits
  for its duration, or for ``promote`` without one; ``analysis`` waits for its run:
  Successful goes on, Failed or Error aborts, Inconclusive pauses (reason Inconclusive);
  ``experiment`` splits traffic by a sticky key at its weight for its duration, then the
  comparison decides (candidate better: go on; worse: abort; undecided: its
  ``onInconclusive``). The sticky split ends with the step; the weight then returns to the
  last ``setWeight``. Steps that finish at once are passed in one reconcile.
* Metrics: measured after ``initialDelay``, every ``interval``, ``count`` times (no count and
  no interval: once; interval only: until the run ends). After an Error measurement the next
  one comes 10 s later. Errors do not count towards ``count``. A metric is Failed when
  failed > failureLimit, Inconclusive when inconclusive > inconclusiveLimit, Error when
  consecutive errors > consecutiveErrorLimit (later checks win, as in Argo); a limit of -1
  never trips (a kfops extension: Argo rejects negative limits). A run ends with its worst
  metric (Failed > Error > Inconclusive > Successful) as soon as one metric ends badly;
  the others are terminated as Successful, as Argo does.
* Background analysis starts at ``startingStep`` and runs across steps; a Failed or Error
  run aborts at any step, an Inconclusive one pauses; ``promote`` then starts a fresh run.
* After the last step: traffic 100 % to the candidate, then the champion alias moves to it
  (phase Healthy). An abort sends all traffic to stable, removes the mirror and leaves the
  alias alone (phase Degraded).
* Measurements keep running while the rollout is paused, so a failing background analysis
  still aborts a paused rollout.
* Traffic is a desired state: every reconcile computes the whole traffic state and emits one
  SetTraffic when it differs from the one recorded in the status (or was never applied).
  The driver persists the status only after the actions succeeded, so a restarted driver
  resumes exactly; one that cannot be sure the router kept its state (the router restarted)
  passes ``resync=True`` once, which re-emits the current traffic and alias.
* A measurement is recorded only if it is due for the status given to ``reconcile``, so a
  repeated or stale answer is ignored instead of counted twice.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from kfops.errors import ConfigurationError, RolloutError
from kfops.rollout import abtest
from kfops.rollout.actions import CANDIDATE, STABLE, VARIANTS, Action, MoveAlias, SetTraffic
from kfops.rollout.conditions import check_condition, evaluate_measurement
from kfops.rollout.spec import AnalysisRef, Metric, RolloutSpec, Step, parse_duration
from kfops.rollout.status import (
    BACKGROUND_RUN,
    MEASUREMENT_HISTORY_LIMIT,
    PHASE_SEVERITY,
    AnalysisPhase,
    AnalysisRunStatus,
    ExperimentStatus,
    MeasurementStatus,
    MetricResult,
    PauseCondition,
    PauseReason,
    RolloutPhase,
    RolloutStatus,
    spec_fingerprint,
)

ERROR_RETRY_SECONDS = 10.0
"""Wait after a measurement in Error before the next one (Argo's DefaultErrorRetryInterval)."""
EXPERIMENT_ERROR_LIMIT = 4
"""Comparison rounds in a row that may fail before the experiment aborts the rollout."""

_BAD = (AnalysisPhase.FAILED, AnalysisPhase.ERROR, AnalysisPhase.INCONCLUSIVE)
_USER_PAUSES = (PauseReason.USER_PAUSED, PauseReason.MANUAL_WEIGHT)
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_.\-]+)\s*\}\}")
_COMPARISON_QUERIES = {
    "two-proportion-z": ("success", "total"),
    "welch-t": ("mean", "variance", "count"),
}


@dataclass(frozen=True)
class MeasurementRequest:
    """One query to run now for ``run``/``metric``."""

    run: str
    metric: str
    query: str
    address: str
    timeout: float


@dataclass(frozen=True)
class Measurement:
    """The answer to a request: a value (scalar or vector), or the error that prevented it."""

    run: str
    metric: str
    value: float | list[float] | None = None
    error: str | None = None
    started_at: float | None = None
    finished_at: float | None = None


@dataclass
class Decision:
    status: RolloutStatus
    actions: list[Action] = field(default_factory=list)
    events: list[str] = field(default_factory=list)


@dataclass
class _Tick:
    spec: RolloutSpec
    now: float
    events: list[str] = field(default_factory=list)
    alias: MoveAlias | None = None


# --- the spec, read -------------------------------------------------------------------------


def _steps(spec: RolloutSpec) -> list[Step]:
    return spec.strategy.canary.steps


def describe_step(step: Step) -> str:
    """``setWeight 40``, ``pause 60s``, ``analysis error-rate`` ... for events and status."""
    if step.set_weight is not None:
        return f"setWeight {step.set_weight}"
    if step.set_mirror is not None:
        return f"setMirror {step.set_mirror.percent}"
    if step.pause is not None:
        duration = step.pause.duration
        return "pause until promote" if duration is None else f"pause {duration}"
    if step.analysis is not None:
        return "analysis " + ",".join(t.template_name for t in step.analysis.templates)
    assert step.experiment is not None
    return f"experiment {step.experiment.weight}% for {step.experiment.duration}"


def _step_label(spec: RolloutSpec, index: int) -> str:
    steps = _steps(spec)
    return f"step {index + 1}/{len(steps)} {describe_step(steps[index])}"


def _run_name(step_index: int) -> str:
    return f"step-{step_index}"


def _experiment_name(step_index: int) -> str:
    return f"experiment-{step_index}"


def _ref(spec: RolloutSpec, run: str) -> AnalysisRef | None:
    if run == BACKGROUND_RUN:
        return spec.strategy.canary.analysis
    index = int(run.removeprefix("step-"))
    steps = _steps(spec)
    return steps[index].analysis if index < len(steps) else None


def expand(text: str, values: dict[str, str], where: str) -> str:
    """Replace ``{{name}}`` placeholders; an unknown one is a configuration error."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            known = ", ".join("{{" + key + "}}" for key in sorted(values))
            raise ConfigurationError(f"{where}: unknown placeholder {{{{{name}}}}}; use {known}")
        return values[name]

    return _PLACEHOLDER.sub(value, text)


def _base_values(spec: RolloutSpec) -> dict[str, str]:
    return {
        "rollout.model": spec.model,
        f"variant.{STABLE}": STABLE,
        f"variant.{CANDIDATE}": CANDIDATE,
    }


def resolve_metrics(spec: RolloutSpec, ref: AnalysisRef, where: str) -> list[tuple[Metric, str]]:
    """The metrics of an analysis reference with their expanded queries (Argo merges the
    templates' metrics; the reference's args override the templates' defaults)."""
    given = {arg.name: arg.value for arg in ref.args}
    resolved: list[tuple[Metric, str]] = []
    seen: set[str] = set()
    for template_ref in ref.templates:
        template = spec.template(template_ref.template_name)
        values = _base_values(spec)
        for arg in template.args:
            value = given.get(arg.name, arg.value)
            if value is None:
                raise ConfigurationError(
                    f"{where}: argument {arg.name!r} of template {template.name!r} has no "
                    "value; set it in the analysis args"
                )
            values[f"args.{arg.name}"] = value
        for metric in template.metrics:
            if metric.name in seen:
                raise ConfigurationError(
                    f"{where}: metric {metric.name!r} appears in two templates; rename one"
                )
            seen.add(metric.name)
            place = f"analysisTemplates[{template.name}].metrics[{metric.name}]"
            resolved.append((metric, expand(metric.provider.prometheus.query, values, place)))
    return resolved


def check_spec(spec: RolloutSpec) -> None:
    """Everything the engine needs from a spec that pydantic cannot check: conditions
    parse, arguments have values, placeholders are known. Raises ConfigurationError."""
    for template in spec.analysis_templates:
        for metric in template.metrics:
            place = f"analysisTemplates[{template.name}].metrics[{metric.name}]"
            if metric.success_condition:
                check_condition(metric.success_condition, f"{place}.successCondition")
            if metric.failure_condition:
                check_condition(metric.failure_condition, f"{place}.failureCondition")
    if spec.strategy.canary.analysis is not None:
        resolve_metrics(spec, spec.strategy.canary.analysis, "strategy.canary.analysis")
    for index, step in enumerate(_steps(spec)):
        where = f"strategy.canary.steps[{index}]"
        if step.analysis is not None:
            resolve_metrics(spec, step.analysis, f"{where}.analysis")
        if step.experiment is not None:
            _comparison_requests(spec, index, where)


def _metrics_of(spec: RolloutSpec, run: str) -> list[tuple[Metric, str]]:
    ref = _ref(spec, run)
    return [] if ref is None else resolve_metrics(spec, ref, run)


def _effective_count(metric: Metric) -> int | None:
    """Argo's EffectiveCount: count, else 1 without interval, else unbounded (None)."""
    if metric.count is not None:
        return metric.count
    return 1 if metric.interval is None else None


# --- measuring ------------------------------------------------------------------------------


def _metric_due(metric: Metric, result: MetricResult, run: AnalysisRunStatus, now: float) -> bool:
    if result.phase.completed:
        return False
    if result.taken == 0:
        delay = parse_duration(metric.initial_delay) if metric.initial_delay else 0.0
        return now >= run.started_at + delay
    limit = _effective_count(metric)
    if limit is not None and result.count >= limit:
        return False
    last = result.measurements[-1]
    if last.phase == AnalysisPhase.ERROR or metric.interval is None:
        wait = ERROR_RETRY_SECONDS
    else:
        wait = parse_duration(metric.interval)
    return now >= last.finished_at + wait


def _active(status: RolloutStatus) -> bool:
    return not (status.abort or status.rolled_back or status.alias_moved)


def _comparison_requests(spec: RolloutSpec, index: int, where: str) -> list[MeasurementRequest]:
    experiment = _steps(spec)[index].experiment
    assert experiment is not None
    comparison = experiment.comparison
    requests = []
    for query_name in _COMPARISON_QUERIES[comparison.test]:
        query = getattr(comparison, f"{query_name}_query")
        for variant in VARIANTS:
            values = {**_base_values(spec), "variant": variant}
            requests.append(
                MeasurementRequest(
                    run=_experiment_name(index),
                    metric=f"{query_name}.{variant}",
                    query=expand(query, values, f"{where}.experiment.comparison"),
                    address=spec.prometheus.address,
                    timeout=10.0,
                )
            )
    return requests


def due_measurements(
    spec: RolloutSpec, status: RolloutStatus, now: float
) -> list[MeasurementRequest]:
    """The queries to run now: metrics of unfinished analysis runs whose time has come, and
    an experiment's comparison once its duration has passed."""
    if not _active(status) or status.spec_fingerprint != spec_fingerprint(spec):
        return []
    requests = []
    for run in status.analysis_runs:
        if run.phase.completed:
            continue
        for metric, query in _metrics_of(spec, run.name):
            result = run.result(metric.name)
            if result is not None and _metric_due(metric, result, run, now):
                provider = metric.provider.prometheus
                requests.append(
                    MeasurementRequest(
                        run=run.name,
                        metric=metric.name,
                        query=query,
                        address=provider.address or spec.prometheus.address,
                        timeout=provider.timeout_seconds,
                    )
                )
    experiment = status.experiment
    if (
        experiment is not None
        and experiment.decision is None
        and experiment.step_index == status.current_step_index
        and status.step_started_at is not None
    ):
        step = _steps(spec)[experiment.step_index].experiment
        assert step is not None
        ready = now >= experiment.started_at + parse_duration(step.duration)
        retry_wait = experiment.consecutive_errors == 0 or (
            experiment.last_attempt_at is not None
            and now >= experiment.last_attempt_at + ERROR_RETRY_SECONDS
        )
        if ready and retry_wait:
            where = f"strategy.canary.steps[{experiment.step_index}]"
            requests += [
                request
                for request in _comparison_requests(spec, experiment.step_index, where)
                if request.metric not in experiment.values
            ]
    return requests


def _record(run: AnalysisRunStatus, metric: Metric, answer: Measurement, tick: _Tick) -> None:
    result = run.result(metric.name)
    assert result is not None
    if answer.error is not None:
        phase, message = AnalysisPhase.ERROR, answer.error
    elif answer.value is None:
        phase, message = AnalysisPhase.ERROR, "the query gave no value"
    else:
        phase, message = evaluate_measurement(
            _value(answer.value), metric.success_condition, metric.failure_condition, metric.name
        )
    if phase == AnalysisPhase.ERROR:
        result.error += 1
        result.consecutive_error += 1
    else:
        result.count += 1
        result.consecutive_error = 0
        setattr(result, phase.value.lower(), getattr(result, phase.value.lower()) + 1)
    result.measurements.append(
        MeasurementStatus(
            value=None if answer.value is None else _value(answer.value),
            phase=phase,
            started_at=tick.now if answer.started_at is None else answer.started_at,
            finished_at=tick.now if answer.finished_at is None else answer.finished_at,
            message=message,
        )
    )
    del result.measurements[:-MEASUREMENT_HISTORY_LIMIT]
    if run.phase == AnalysisPhase.PENDING:
        run.phase = AnalysisPhase.RUNNING
    tick.events.append(
        f"analysis {run.name}/{metric.name}: measurement {result.taken} "
        f"{phase.value.lower()} ({message})"
    )


def _value(value: float | Sequence[float]) -> float | list[float]:
    if isinstance(value, int | float):
        return float(value)
    return [float(item) for item in value]


# --- judging --------------------------------------------------------------------------------


def _exceeded(count: int, limit: int) -> bool:
    return limit >= 0 and count > limit


def limit_verdict(metric: Metric, result: MetricResult) -> tuple[AnalysisPhase | None, str]:
    """Argo's assessMetricFailureInconclusiveOrError: the later check wins."""
    phase, message = None, ""
    if _exceeded(result.failed, metric.failure_limit):
        phase = AnalysisPhase.FAILED
        message = f"failed ({result.failed}) > failureLimit ({metric.failure_limit})"
    if _exceeded(result.inconclusive, metric.inconclusive_limit):
        phase = AnalysisPhase.INCONCLUSIVE
        message = (
            f"inconclusive ({result.inconclusive}) > inconclusiveLimit "
            f"({metric.inconclusive_limit})"
        )
    if _exceeded(result.consecutive_error, metric.consecutive_error_limit):
        phase = AnalysisPhase.ERROR
        message = (
            f"consecutiveErrors ({result.consecutive_error}) > consecutiveErrorLimit "
            f"({metric.consecutive_error_limit})"
        )
    return phase, message


def assess_metric(
    metric: Metric, result: MetricResult, terminating: bool
) -> tuple[AnalysisPhase, str]:
    """The phase of one metric from its counters (Argo's assessMetricStatus)."""
    if result.phase.completed:
        return result.phase, result.message
    if result.taken == 0:
        if terminating:
            return AnalysisPhase.SUCCESSFUL, "terminated before its first measurement"
        return AnalysisPhase.PENDING, ""
    phase, message = limit_verdict(metric, result)
    if phase is not None:
        return phase, message
    limit = _effective_count(metric)
    if limit is not None and result.count >= limit:
        return AnalysisPhase.SUCCESSFUL, f"count ({limit}) reached"
    if terminating:
        return AnalysisPhase.SUCCESSFUL, "terminated"
    return AnalysisPhase.RUNNING, ""


def _assess_run(spec: RolloutSpec, run: AnalysisRunStatus, tick: _Tick, stop: str = "") -> None:
    """Update a run's metric phases and its own phase; ``stop`` terminates it (Argo's
    terminate: unfinished metrics end Successful)."""
    if run.phase.completed:
        return
    metrics = {metric.name: metric for metric, _ in _metrics_of(spec, run.name)}
    results = [r for r in run.metric_results if r.name in metrics]
    verdicts = {r.name: assess_metric(metrics[r.name], r, bool(stop)) for r in results}
    if not stop and any(phase in _BAD for phase, _ in verdicts.values()):
        verdicts = {r.name: assess_metric(metrics[r.name], r, True) for r in results}
    worst: MetricResult | None = None
    for result in results:
        phase, message = verdicts[result.name]
        if phase.completed and not result.phase.completed:
            last = result.measurements[-1].message if result.measurements else ""
            result.message = f"{message}: {last}" if last and phase in _BAD else message
            tick.events.append(f"analysis {run.name}/{result.name}: {phase.value}")
        result.phase = phase
        if phase.completed and (
            worst is None or PHASE_SEVERITY[phase] > PHASE_SEVERITY[worst.phase]
        ):
            worst = result
    if all(result.phase.completed for result in results):
        run.phase = worst.phase if worst is not None else AnalysisPhase.SUCCESSFUL
        run.finished_at = tick.now
        if worst is not None and worst.phase in _BAD:
            run.message = f"metric {worst.name!r} {worst.phase.value}: {worst.message}"
        else:
            run.message = stop or "every metric passed"
        tick.events.append(f"analysis {run.name}: {run.phase.value} ({run.message})")


# --- experiments ----------------------------------------------------------------------------


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


def _record_experiment(
    spec: RolloutSpec, status: RolloutStatus, answers: list[Measurement], tick: _Tick
) -> None:
    experiment = status.experiment
    if experiment is None or not answers:
        return
    errors = []
    for answer in answers:
        value, problem = _experiment_value(answer.value)
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
            _abort(
                spec,
                status,
                f"experiment comparison failed {experiment.consecutive_errors} times in a row:"
                f" {experiment.last_error}",
                tick,
            )
        return
    experiment.consecutive_errors = 0
    experiment.last_error = None
    step = _steps(spec)[experiment.step_index].experiment
    assert step is not None
    needed = [f"{q}.{v}" for q in _COMPARISON_QUERIES[step.comparison.test] for v in VARIANTS]
    if any(name not in experiment.values for name in needed):
        return
    result = compare(step.comparison, experiment.values)
    experiment.result = result
    tick.events.append(f"experiment {experiment.step_index + 1}: {result.message}")
    if result.decision == abtest.CANDIDATE_BETTER:
        experiment.decision = "continue"
    elif result.decision == abtest.CANDIDATE_WORSE:
        experiment.decision = "abort"
        _abort(spec, status, f"experiment: {result.message}", tick)
    else:
        choice = step.comparison.on_inconclusive
        experiment.decision = {"promote": "continue", "abort": "abort", "pause": "pause"}[choice]
        if choice == "abort":
            _abort(spec, status, f"experiment inconclusive: {result.message}", tick)
        elif choice == "pause":
            _pause(
                status,
                PauseReason.INCONCLUSIVE,
                tick,
                result.message,
                run=_experiment_name(experiment.step_index),
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


# --- moving ---------------------------------------------------------------------------------


def _pause(
    status: RolloutStatus, reason: PauseReason, tick: _Tick, message: str, run: str | None = None
) -> None:
    if any(c.reason == reason and c.run == run for c in status.pause_conditions):
        return
    status.pause_conditions.append(
        PauseCondition(reason=reason, start_time=tick.now, message=message, run=run)
    )
    tick.events.append(f"paused ({reason.value}): {message}")


def _unpause(status: RolloutStatus, *reasons: PauseReason) -> list[PauseCondition]:
    removed = [c for c in status.pause_conditions if c.reason in reasons]
    status.pause_conditions = [c for c in status.pause_conditions if c.reason not in reasons]
    return removed


def _terminate_runs(spec: RolloutSpec, status: RolloutStatus, tick: _Tick, why: str) -> None:
    for run in status.analysis_runs:
        _assess_run(spec, run, tick, stop=f"terminated: {why}")


def _abort(spec: RolloutSpec, status: RolloutStatus, message: str, tick: _Tick) -> None:
    status.abort = True
    status.aborted_at = tick.now
    status.message = message
    status.pause_conditions = []
    status.manual_weight = None
    status.promote_full = False
    _terminate_runs(spec, status, tick, "rollout aborted")
    tick.events.append(f"aborted: {message}")


def _complete(spec: RolloutSpec, status: RolloutStatus, tick: _Tick, how: str) -> None:
    _terminate_runs(spec, status, tick, "rollout complete")
    status.current_step_index = len(_steps(spec))
    status.step_started_at = None
    status.pause_conditions = []
    status.manual_weight = None
    status.alias_moved = True
    status.previous_champion = spec.stable.version
    status.completed_at = tick.now
    tick.alias = MoveAlias(spec.model, spec.champion_alias, spec.candidate.version)
    tick.events.append(
        f"{how}: version {spec.candidate.version} takes 100% and alias {spec.champion_alias!r}"
    )


def _enter(spec: RolloutSpec, status: RolloutStatus, index: int, tick: _Tick) -> None:
    step = _steps(spec)[index]
    status.step_started_at = tick.now
    tick.events.append(_step_label(spec, index))
    background = spec.strategy.canary.analysis
    if (
        background is not None
        and index >= background.starting_step
        and status.run(BACKGROUND_RUN) is None
    ):
        status.analysis_runs.append(_new_run(spec, BACKGROUND_RUN, None, tick.now))
        tick.events.append(f"analysis {BACKGROUND_RUN}: started")
    if step.pause is not None:
        _pause(status, PauseReason.PAUSED_BY_STEP, tick, _step_label(spec, index))
    elif step.analysis is not None:
        name = _run_name(index)
        status.analysis_runs = [run for run in status.analysis_runs if run.name != name]
        status.analysis_runs.append(_new_run(spec, name, index, tick.now))
    elif step.experiment is not None:
        status.experiment = ExperimentStatus(step_index=index, started_at=tick.now)


def _new_run(spec: RolloutSpec, name: str, step_index: int | None, now: float) -> AnalysisRunStatus:
    return AnalysisRunStatus(
        name=name,
        step_index=step_index,
        started_at=now,
        metric_results=[MetricResult(name=metric.name) for metric, _ in _metrics_of(spec, name)],
    )


def _step_done(spec: RolloutSpec, status: RolloutStatus, index: int, tick: _Tick) -> bool:
    step = _steps(spec)[index]
    if step.pause is not None:
        if step.pause.duration is None:
            return False
        assert status.step_started_at is not None
        if tick.now < status.step_started_at + parse_duration(step.pause.duration):
            return False
        _unpause(status, PauseReason.PAUSED_BY_STEP)
        return True
    if step.analysis is not None:
        run = status.run(_run_name(index))
        return run is not None and run.phase == AnalysisPhase.SUCCESSFUL
    if step.experiment is not None:
        experiment = status.experiment
        return experiment is not None and experiment.decision == "continue"
    return True


def _blocked(spec: RolloutSpec, status: RolloutStatus) -> bool:
    return spec.paused or any(
        c.reason != PauseReason.PAUSED_BY_STEP for c in status.pause_conditions
    )


def _advance(spec: RolloutSpec, status: RolloutStatus, tick: _Tick) -> None:
    steps = _steps(spec)
    for _ in range(len(steps) + 2):
        if not _active(status):
            return
        if status.promote_full:
            _complete(spec, status, tick, "promoted in full")
            return
        if _blocked(spec, status):
            return
        index = status.current_step_index
        if index >= len(steps):
            _complete(spec, status, tick, "rollout complete")
            return
        if status.step_started_at is None:
            _enter(spec, status, index, tick)
        if not _step_done(spec, status, index, tick):
            return
        status.current_step_index = index + 1
        status.step_started_at = None


def _react(spec: RolloutSpec, status: RolloutStatus, tick: _Tick) -> None:
    """Consequences of finished runs: Failed or Error aborts, Inconclusive pauses."""
    current = _run_name(status.current_step_index)
    for run in status.analysis_runs:
        if not _active(status):
            return
        relevant = run.name == BACKGROUND_RUN or (
            run.name == current and status.step_started_at is not None
        )
        if not relevant:
            continue
        if run.phase in (AnalysisPhase.FAILED, AnalysisPhase.ERROR):
            _abort(spec, status, f"analysis {run.name} {run.phase.value}: {run.message}", tick)
        elif run.phase == AnalysisPhase.INCONCLUSIVE:
            _pause(status, PauseReason.INCONCLUSIVE, tick, run.message, run=run.name)


# --- traffic --------------------------------------------------------------------------------


def desired_traffic(spec: RolloutSpec, status: RolloutStatus) -> SetTraffic:
    """The whole traffic state the status calls for.

    Worked example: steps setWeight 20, setMirror 10, pause, setWeight 50; at the pause
    the candidate answers 20 % and sees a copy of 10 % of stable's requests.
    """
    if status.abort or status.rolled_back:
        return SetTraffic(candidate_weight=0)
    if status.alias_moved:
        return SetTraffic(candidate_weight=100)
    steps = _steps(spec)
    weight = mirror = 0
    for step in steps[: status.current_step_index]:
        if step.set_weight is not None:
            weight = step.set_weight
        if step.set_mirror is not None:
            mirror = step.set_mirror.percent
    if status.manual_weight is not None:
        return SetTraffic(candidate_weight=status.manual_weight, mirror_percent=mirror)
    experiment = status.experiment
    if (
        experiment is not None
        and experiment.step_index == status.current_step_index
        and status.step_started_at is not None
        and experiment.decision in (None, "pause")
    ):
        step = steps[experiment.step_index].experiment
        assert step is not None
        return SetTraffic(
            candidate_weight=step.weight,
            mirror_percent=mirror,
            sticky_header=step.sticky_key.header,
            sticky_field=step.sticky_key.field,
        )
    return SetTraffic(candidate_weight=weight, mirror_percent=mirror)


def _traffic_actions(
    spec: RolloutSpec, status: RolloutStatus, tick: _Tick, resync: bool
) -> list[Action]:
    actions: list[Action] = []
    target = desired_traffic(spec, status)
    applied = SetTraffic(
        candidate_weight=status.canary_weight,
        mirror_percent=status.mirror_percent,
        sticky_header=status.sticky_header,
        sticky_field=status.sticky_field,
    )
    if resync or not status.traffic_applied or target != applied:
        actions.append(target)
        status.canary_weight = target.candidate_weight
        status.mirror_percent = target.mirror_percent
        status.sticky_header = target.sticky_header
        status.sticky_field = target.sticky_field
        status.traffic_applied = True
    alias = tick.alias
    if alias is None and resync:
        if status.rolled_back and status.previous_champion:
            alias = MoveAlias(spec.model, spec.champion_alias, status.previous_champion)
        elif status.alias_moved:
            alias = MoveAlias(spec.model, spec.champion_alias, spec.candidate.version)
    if alias is not None:
        actions.append(alias)
    return actions


def _summarise(spec: RolloutSpec, status: RolloutStatus, now: float) -> None:
    status.controller_pause = bool(status.pause_conditions)
    status.updated_at = now
    steps = _steps(spec)
    if status.abort or status.rolled_back:
        status.phase = RolloutPhase.DEGRADED
    elif status.alias_moved:
        status.phase = RolloutPhase.HEALTHY
        status.message = (
            f"version {spec.candidate.version} is {spec.champion_alias} with 100% of traffic"
        )
    elif spec.paused or status.pause_conditions:
        status.phase = RolloutPhase.PAUSED
        reasons = ["spec.paused is true"] if spec.paused else []
        reasons += [f"{c.reason.value}: {c.message}" for c in status.pause_conditions]
        status.message = "; ".join(reasons)
    else:
        status.phase = RolloutPhase.PROGRESSING
        index = min(status.current_step_index, len(steps) - 1)
        status.message = _step_label(spec, index)


def _adopt_spec(spec: RolloutSpec, status: RolloutStatus, tick: _Tick) -> RolloutStatus:
    """A status written for another spec starts over (a finished rollout of the same
    candidate only takes the new fingerprint)."""
    fingerprint = spec_fingerprint(spec)
    if status.spec_fingerprint == fingerprint:
        return status
    same_candidate = status.candidate_version == spec.candidate.version
    if not status.spec_fingerprint or (status.alias_moved and same_candidate):
        status.spec_fingerprint = fingerprint
        return status
    tick.events.append("spec changed: starting the rollout over at step 1")
    return _fresh(spec, status)


def _fresh(spec: RolloutSpec, status: RolloutStatus) -> RolloutStatus:
    """The initial status, keeping what is known of the traffic actually applied."""
    fresh = RolloutStatus.initial(spec)
    for name in (
        "canary_weight",
        "mirror_percent",
        "sticky_header",
        "sticky_field",
        "traffic_applied",
    ):
        setattr(fresh, name, getattr(status, name))
    return fresh


def _decide(
    spec: RolloutSpec,
    status: RolloutStatus,
    tick: _Tick,
    measurements: Iterable[Measurement] = (),
    resync: bool = False,
) -> Decision:
    due = {(request.run, request.metric) for request in due_measurements(spec, status, tick.now)}
    experiment_answers = []
    for answer in measurements:
        if (answer.run, answer.metric) not in due:
            tick.events.append(f"ignored a measurement of {answer.run}/{answer.metric}: not due")
            continue
        due.discard((answer.run, answer.metric))
        if answer.run.startswith("experiment-"):
            experiment_answers.append(answer)
            continue
        run = status.run(answer.run)
        metric = next(m for m, _ in _metrics_of(spec, answer.run) if m.name == answer.metric)
        assert run is not None
        _record(run, metric, answer, tick)
    for run in status.analysis_runs:
        _assess_run(spec, run, tick)
    if _active(status):
        _record_experiment(spec, status, experiment_answers, tick)
    _react(spec, status, tick)
    _advance(spec, status, tick)
    actions = _traffic_actions(spec, status, tick, resync)
    _summarise(spec, status, tick.now)
    return Decision(status=status, actions=actions, events=tick.events)


def reconcile(
    spec: RolloutSpec,
    status: RolloutStatus,
    now: float,
    measurements: Iterable[Measurement] = (),
    *,
    resync: bool = False,
) -> Decision:
    """Record the measurements, judge the analyses, move through the steps.

    ``status`` is not modified; the new one is in the decision. ``resync=True`` re-emits
    the current traffic (and alias, when the rollout moved it) even if unchanged.
    """
    check_spec(spec)
    tick = _Tick(spec=spec, now=now)
    current = _adopt_spec(spec, status.model_copy(deep=True), tick)
    return _decide(spec, current, tick, measurements, resync)


# --- commands -------------------------------------------------------------------------------


def _require_running(status: RolloutStatus, command: str) -> None:
    if status.abort or status.rolled_back:
        raise RolloutError(f"{command}: the rollout is aborted; run `retry` to start it again")
    if status.alias_moved:
        raise RolloutError(
            f"{command}: the rollout is already Healthy (promoted); use `undo` to roll back"
        )


def _skip_step(spec: RolloutSpec, status: RolloutStatus, tick: _Tick) -> None:
    index = status.current_step_index
    step = _steps(spec)[index]
    if step.analysis is not None:
        run = status.run(_run_name(index))
        if run is not None:
            _assess_run(spec, run, tick, stop="terminated: step skipped by promote")
    experiment = status.experiment
    if step.experiment is not None and experiment and experiment.decision in (None, "pause"):
        experiment.decision = "promoted"
    _unpause(status, PauseReason.PAUSED_BY_STEP)
    tick.events.append(f"{_step_label(spec, index)}: skipped by promote")
    status.current_step_index = index + 1
    status.step_started_at = None


def _promote(spec: RolloutSpec, status: RolloutStatus, tick: _Tick, full: bool = False) -> None:
    _require_running(status, "promote")
    if full:
        status.promote_full = True
        status.pause_conditions = []
        status.manual_weight = None
        tick.events.append("promote --full: skipping every remaining step and analysis")
        return
    acted = bool(_unpause(status, *_USER_PAUSES))
    if acted:
        status.manual_weight = None
        tick.events.append("promote: user pause lifted")
    inconclusive = _unpause(status, PauseReason.INCONCLUSIVE)
    index = status.current_step_index
    steps = _steps(spec)
    if inconclusive:
        acted = True
        for condition in inconclusive:
            if condition.run == BACKGROUND_RUN:
                status.analysis_runs = [
                    run for run in status.analysis_runs if run.name != BACKGROUND_RUN
                ]
                status.analysis_runs.append(_new_run(spec, BACKGROUND_RUN, None, tick.now))
                tick.events.append(f"analysis {BACKGROUND_RUN}: restarted by promote")
            elif index < len(steps) and status.step_started_at is not None:
                _skip_step(spec, status, tick)
    elif (
        index < len(steps)
        and status.step_started_at is not None
        and steps[index].set_weight is None
        and steps[index].set_mirror is None
    ):
        acted = True
        _skip_step(spec, status, tick)
    if not acted:
        where = _step_label(spec, index) if index < len(steps) else "the end of the steps"
        raise RolloutError(
            f"promote: nothing is waiting at {where}; use `promote --full` to skip every "
            "remaining step"
        )


def _abort_command(spec: RolloutSpec, status: RolloutStatus, tick: _Tick) -> None:
    _require_running(status, "abort")
    _abort(spec, status, "aborted by user", tick)


def _retry(spec: RolloutSpec, status: RolloutStatus, tick: _Tick) -> RolloutStatus:
    if not (status.abort or status.rolled_back):
        raise RolloutError(
            f"retry: the rollout is {status.phase.value}, not aborted; retry restarts an "
            "aborted rollout"
        )
    fresh = _fresh(spec, status)
    fresh.previous_champion = status.previous_champion
    tick.events.append("retry: starting the rollout over at step 1")
    return fresh


def _pause_command(spec: RolloutSpec, status: RolloutStatus, tick: _Tick) -> None:
    _require_running(status, "pause")
    if status.paused_for(PauseReason.USER_PAUSED):
        tick.events.append("pause: already paused by a user")
        return
    _pause(status, PauseReason.USER_PAUSED, tick, "paused by user; `resume` to continue")


def _resume(spec: RolloutSpec, status: RolloutStatus, tick: _Tick) -> None:
    _require_running(status, "resume")
    if not _unpause(status, *_USER_PAUSES):
        raise RolloutError(
            "resume: the rollout is not paused by a user (pause or set-weight); use `promote` "
            "to skip a waiting step"
        )
    status.manual_weight = None
    tick.events.append("resumed: the steps take over the traffic again")


def _set_weight(spec: RolloutSpec, status: RolloutStatus, tick: _Tick, weight: Any = None) -> None:
    """Hold the candidate at ``weight`` percent: the rollout pauses (reason ManualWeight) so
    no step overwrites it; ``resume`` or ``promote`` gives the traffic back to the steps."""
    if isinstance(weight, str) and weight.strip().isdigit():
        weight = int(weight)
    if isinstance(weight, bool) or not isinstance(weight, int) or not 0 <= weight <= 100:
        raise RolloutError(f"set-weight: weight {weight!r} is not a whole number in 0..100")
    _require_running(status, "set-weight")
    status.manual_weight = weight
    _unpause(status, PauseReason.MANUAL_WEIGHT)
    _pause(
        status,
        PauseReason.MANUAL_WEIGHT,
        tick,
        f"weight held at {weight}% by set-weight; `resume` to continue",
    )


def _undo(spec: RolloutSpec, status: RolloutStatus, tick: _Tick) -> None:
    if status.abort or status.rolled_back:
        raise RolloutError("undo: the rollout is already aborted; nothing to undo")
    if not status.alias_moved:
        _abort(spec, status, "undone by user before completion (aborted)", tick)
        return
    champion = status.previous_champion or spec.stable.version
    status.rolled_back = True
    status.alias_moved = False
    status.message = f"rolled back: version {champion} is {spec.champion_alias} again"
    tick.alias = MoveAlias(spec.model, spec.champion_alias, champion)
    tick.events.append(status.message)


_COMMANDS: dict[str, Callable[..., RolloutStatus | None]] = {
    "promote": _promote,
    "abort": _abort_command,
    "retry": _retry,
    "pause": _pause_command,
    "resume": _resume,
    "set-weight": _set_weight,
    "undo": _undo,
}
COMMANDS = tuple(_COMMANDS)


def apply_command(
    spec: RolloutSpec, status: RolloutStatus, command: str, now: float, **arguments: Any
) -> Decision:
    """Steer a rollout as kubectl-argo-rollouts does, then reconcile (without measurements).

    ``promote`` (``full=True`` for --full), ``abort``, ``retry``, ``pause``, ``resume``,
    ``set-weight`` (``weight=N``), ``undo``. An invalid command raises RolloutError.
    """
    handler = _COMMANDS.get(command.replace("_", "-"))
    if handler is None:
        raise RolloutError(f"unknown rollout command {command!r}; use one of {', '.join(COMMANDS)}")
    check_spec(spec)
    tick = _Tick(spec=spec, now=now)
    current = _adopt_spec(spec, status.model_copy(deep=True), tick)
    try:
        replaced = handler(spec, current, tick, **arguments)
    except TypeError as exc:
        raise RolloutError(f"{command}: {exc}") from None
    return _decide(spec, replaced or current, tick)
