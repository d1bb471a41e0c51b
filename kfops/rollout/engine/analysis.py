"""Measuring for the rollout engine: which metrics are due, recording their answers, the
limits, and the phase of each metric and analysis run (Argo's ``analysis`` package).

Pure functions of the spec and status; the semantics are described in
:mod:`kfops.rollout.engine`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from kfops.config.rollout import AnalysisRef, Metric, RolloutSpec, parse_duration
from kfops.errors import ConfigurationError
from kfops.rollout.engine.actions import CANDIDATE, STABLE
from kfops.rollout.engine.conditions import evaluate_measurement
from kfops.rollout.engine.status import (
    BACKGROUND_RUN,
    MEASUREMENT_HISTORY_LIMIT,
    PHASE_SEVERITY,
    AnalysisPhase,
    AnalysisRunStatus,
    MeasurementStatus,
    MetricResult,
    RolloutStatus,
)
from kfops.rollout.engine.tick import Tick, steps_of

ERROR_RETRY_SECONDS = 10.0
"""Wait after a measurement in Error before the next one (Argo's DefaultErrorRetryInterval)."""

_BAD = (AnalysisPhase.FAILED, AnalysisPhase.ERROR, AnalysisPhase.INCONCLUSIVE)
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_.\-]+)\s*\}\}")


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


# --- the metrics of a run, read from the spec -----------------------------------------------


def expand(text: str, values: dict[str, str], where: str) -> str:
    """Replace ``{{name}}`` placeholders; an unknown one is a configuration error."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            known = ", ".join("{{" + key + "}}" for key in sorted(values))
            raise ConfigurationError(f"{where}: unknown placeholder {{{{{name}}}}}; use {known}")
        return values[name]

    return _PLACEHOLDER.sub(value, text)


def base_values(spec: RolloutSpec) -> dict[str, str]:
    """The placeholders every query may use."""
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
        values = base_values(spec)
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


def _ref(spec: RolloutSpec, run: str) -> AnalysisRef | None:
    if run == BACKGROUND_RUN:
        return spec.strategy.canary.analysis
    index = int(run.removeprefix("step-"))
    steps = steps_of(spec)
    return steps[index].analysis if index < len(steps) else None


def metrics_of(spec: RolloutSpec, run: str) -> list[tuple[Metric, str]]:
    """The metrics (with expanded queries) of the analysis run named ``run``."""
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


def due_metric_requests(
    spec: RolloutSpec, status: RolloutStatus, now: float
) -> list[MeasurementRequest]:
    """The metrics of unfinished analysis runs whose time has come."""
    requests = []
    for run in status.analysis_runs:
        if run.phase.completed:
            continue
        for metric, query in metrics_of(spec, run.name):
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
    return requests


_VARIANT_MATCHER = re.compile(r'variant\s*=~?\s*"([^"]*)"')


def traffic_target(spec: RolloutSpec) -> str:
    """Where a person sends requests so the rollout has something to measure."""
    traffic = spec.traffic
    if traffic.backend == "local":
        return traffic.router_url
    where = f" in namespace {traffic.namespace}" if traffic.namespace else ""
    return f"InferenceService {traffic.inference_service or spec.model}{where}"


def no_traffic_message(spec: RolloutSpec, query: str) -> str:
    """The one line for a query that returned no samples: no series matched because nothing
    was requested (yet), which Argo's ``result[0]`` reports only as an index error."""
    variants = sorted(set(_VARIANT_MATCHER.findall(query)))
    which = ", ".join(variants) if variants else "the query's series"
    return (
        f"no traffic: the query returned no samples for {which}; send requests to "
        f"{traffic_target(spec)}"
    )


def _no_samples(value: float | list[float] | None) -> bool:
    return isinstance(value, list) and not value


def _all_nan(value: float | list[float]) -> bool:
    values = value if isinstance(value, list) else [value]
    return bool(values) and all(math.isnan(v) for v in values)


def record(
    run: AnalysisRunStatus, metric: Metric, answer: Measurement, tick: Tick, no_traffic: str = ""
) -> None:
    """Count one answer in the metric's result (an error or no value counts as Error).

    An empty vector that the conditions cannot be evaluated on is an Error, as in Argo (a
    condition ``len(result) == 0`` still decides it); its message is ``no_traffic``, the
    line saying so and where to send requests. A NaN that does not pass gets the same hint.
    """
    result = run.result(metric.name)
    assert result is not None
    if answer.error is not None:
        phase, message = AnalysisPhase.ERROR, answer.error
    elif answer.value is None:
        phase, message = AnalysisPhase.ERROR, "the query gave no value"
    else:
        value = _value(answer.value)
        phase, message = evaluate_measurement(
            value, metric.success_condition, metric.failure_condition, metric.name
        )
        if no_traffic and phase == AnalysisPhase.ERROR and _no_samples(value):
            message = no_traffic
        elif no_traffic and phase != AnalysisPhase.SUCCESSFUL and _all_nan(value):
            message += f" (NaN: a ratio over no requests? {no_traffic.split('; ', 1)[-1]})"
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


def assess_run(spec: RolloutSpec, run: AnalysisRunStatus, tick: Tick, stop: str = "") -> None:
    """Update a run's metric phases and its own phase; ``stop`` terminates it (Argo's
    terminate: unfinished metrics end Successful)."""
    if run.phase.completed:
        return
    metrics = {metric.name: metric for metric, _ in metrics_of(spec, run.name)}
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


# --- starting and stopping runs -------------------------------------------------------------


def new_run(spec: RolloutSpec, name: str, step_index: int | None, now: float) -> AnalysisRunStatus:
    """A pending run with one empty result per metric."""
    return AnalysisRunStatus(
        name=name,
        step_index=step_index,
        started_at=now,
        metric_results=[MetricResult(name=metric.name) for metric, _ in metrics_of(spec, name)],
    )


def terminate_runs(spec: RolloutSpec, status: RolloutStatus, tick: Tick, why: str) -> None:
    for run in status.analysis_runs:
        assess_run(spec, run, tick, stop=f"terminated: {why}")


def abort(spec: RolloutSpec, status: RolloutStatus, message: str, tick: Tick) -> None:
    """Abort the rollout; its unfinished analysis runs end as terminated (as Argo does)."""
    status.abort = True
    status.aborted_at = tick.now
    status.message = message
    status.pause_conditions = []
    status.manual_weight = None
    status.promote_full = False
    terminate_runs(spec, status, tick, "rollout aborted")
    tick.events.append(f"aborted: {message}")
