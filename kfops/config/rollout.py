"""The ModelRollout spec: one shape for the ``rollout:`` section of kfops.yaml and for the
``spec`` of a ``rollouts.kfops.io/v1alpha1`` ModelRollout object.

Field names are camelCase on the wire (as in Argo Rollouts and every Kubernetes object) and
snake_case in Python. Durations are Argo's strings: ``30s``, ``5m``, ``1h`` or plain seconds.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.alias_generators import to_camel

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h)?$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def parse_duration(value: str | int | float) -> float:
    """Seconds in an Argo duration (``90``, ``90s``, ``1.5m``, ``2h``, ``500ms``)."""
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError(f"duration {value} is negative; use 0 or more seconds")
        return float(value)
    match = _DURATION.match(value.strip())
    if not match:
        raise ValueError(f"duration {value!r} is not like 30s, 5m, 1h or 500ms")
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]


Duration = str | int
"""An Argo duration as written; read it with :func:`parse_duration`."""


class Spec(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        alias_generator=to_camel,
        populate_by_name=True,
        validate_assignment=True,
    )


def _check_duration(value: Duration | None) -> Duration | None:
    if value is not None:
        parse_duration(value)
    return value


class PrometheusProvider(Spec):
    address: str | None = Field(
        None, description="Prometheus base URL; default the rollout's spec.prometheus.address."
    )
    query: str = Field(
        ..., description="PromQL; {{args.NAME}}, {{rollout.model}} and {{variant.*}} expand."
    )
    timeout_seconds: float = Field(10.0, gt=0)


class MetricProvider(Spec):
    prometheus: PrometheusProvider


class Metric(Spec):
    """One measured quantity of an analysis, with Argo's limits and defaults."""

    name: str = Field(..., min_length=1)
    provider: MetricProvider
    interval: Duration | None = Field(None, description="Between measurements.")
    count: int | None = Field(
        None, ge=1, description="Measurements to take; unset: 1, or unbounded with interval."
    )
    initial_delay: Duration | None = None
    success_condition: str | None = Field(None, description="e.g. result[0] >= 0.95")
    failure_condition: str | None = Field(None, description="e.g. result[0] > 0.05")
    failure_limit: int = Field(0, ge=-1, description="Failed measurements tolerated; -1: any.")
    inconclusive_limit: int = Field(0, ge=-1)
    consecutive_error_limit: int = Field(4, ge=-1)

    _durations = field_validator("interval", "initial_delay")(_check_duration)

    @model_validator(mode="after")
    def _repeatable(self) -> Metric:
        if self.count is not None and self.count > 1 and self.interval is None:
            raise ValueError(f"metric {self.name!r}: count {self.count} needs an interval")
        return self


class Argument(Spec):
    name: str
    value: str | None = None


class AnalysisTemplate(Spec):
    name: str = Field(..., min_length=1)
    args: list[Argument] = Field(default_factory=list)
    metrics: list[Metric] = Field(..., min_length=1)


class TemplateRef(Spec):
    template_name: str


class AnalysisRef(Spec):
    """An analysis to run: inline in a step, or in the background of the canary."""

    templates: list[TemplateRef] = Field(..., min_length=1)
    args: list[Argument] = Field(default_factory=list)


class BackgroundAnalysis(AnalysisRef):
    starting_step: int = Field(0, ge=0, description="Step index the background run starts at.")


class Pause(Spec):
    duration: Duration | None = Field(None, description="Unset: wait for `rollout promote`.")

    _durations = field_validator("duration")(_check_duration)


class SetMirror(Spec):
    """Shadow: copy a percentage of requests to the candidate and discard its answers."""

    percent: int = Field(..., ge=0, le=100)


class StickyKey(Spec):
    header: str | None = Field(None, description="Request header naming the subject.")
    field: str | None = Field(None, description="Top-level JSON field naming the subject.")

    @model_validator(mode="after")
    def _one(self) -> StickyKey:
        if (self.header is None) == (self.field is None):
            raise ValueError("sticky key: set exactly one of header or field")
        return self


class Comparison(Spec):
    """The statistical test closing an A/B experiment; queries expand {{variant}}."""

    metric: str = Field(..., description="Name shown in status and pictures.")
    test: Literal["two-proportion-z", "welch-t"] = "two-proportion-z"
    success_query: str | None = Field(None, description="two-proportion-z: successes.")
    total_query: str | None = Field(None, description="two-proportion-z: trials.")
    mean_query: str | None = Field(None, description="welch-t: mean per variant.")
    variance_query: str | None = Field(None, description="welch-t: variance per variant.")
    count_query: str | None = Field(None, description="welch-t: observations per variant.")
    higher_is_better: bool = True
    alpha: float = Field(0.05, gt=0, lt=1)
    on_inconclusive: Literal["pause", "promote", "abort"] = "pause"

    @model_validator(mode="after")
    def _queries(self) -> Comparison:
        needed = (
            ("success_query", "total_query")
            if self.test == "two-proportion-z"
            else ("mean_query", "variance_query", "count_query")
        )
        missing = [to_camel(name) for name in needed if getattr(self, name) is None]
        if missing:
            raise ValueError(f"comparison {self.test} needs {', '.join(missing)}")
        return self


class Experiment(Spec):
    """A/B: split by a sticky key for a duration, then compare the variants."""

    duration: Duration
    weight: int = Field(50, ge=1, le=99, description="Percent of subjects sent to the candidate.")
    sticky_key: StickyKey
    comparison: Comparison

    _durations = field_validator("duration")(_check_duration)


class Step(Spec):
    """One canary step; exactly one field is set, as in Argo Rollouts."""

    set_weight: int | None = Field(None, ge=0, le=100)
    pause: Pause | None = None
    analysis: AnalysisRef | None = None
    set_mirror: SetMirror | None = None
    experiment: Experiment | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Step:
        chosen = [name for name in type(self).model_fields if getattr(self, name) is not None]
        if len(chosen) != 1:
            raise ValueError(
                "a step sets exactly one of setWeight, pause, analysis, setMirror, experiment"
                f" (got {', '.join(map(to_camel, chosen)) or 'none'})"
            )
        return self

    @property
    def kind(self) -> str:
        return next(name for name in type(self).model_fields if getattr(self, name) is not None)


class Canary(Spec):
    steps: list[Step] = Field(..., min_length=1)
    analysis: BackgroundAnalysis | None = Field(None, description="Runs across steps.")


class Strategy(Spec):
    canary: Canary


class ModelRef(Spec):
    version: str = Field(..., min_length=1, description="MLflow model version.")


class PrometheusConfig(Spec):
    address: str = "http://127.0.0.1:9090"


class TrafficConfig(Spec):
    """Where weights are applied: the local router, or a KServe InferenceService."""

    backend: Literal["local", "kserve"] = "local"
    router_url: str = Field("http://127.0.0.1:8000", description="local: the router's admin.")
    inference_service: str | None = Field(None, description="kserve: the InferenceService.")
    namespace: str | None = None
    deployment_mode: Literal["Serverless", "RawDeployment"] = "Serverless"
    virtual_service: str | None = Field(None, description="kserve shadow: Istio VirtualService.")


class RolloutPlan(Spec):
    """The ``rollout:`` section of kfops.yaml: a rollout without its versions, which are
    chosen when it starts (stable: the champion; candidate: the challenger or a flag)."""

    model: str | None = Field(None, min_length=1, description="Registered model in MLflow.")
    stable: ModelRef | None = None
    candidate: ModelRef | None = None
    strategy: Strategy
    analysis_templates: list[AnalysisTemplate] = Field(default_factory=list)
    prometheus: PrometheusConfig = Field(default_factory=PrometheusConfig)
    traffic: TrafficConfig = Field(default_factory=TrafficConfig)
    champion_alias: str = "champion"
    paused: bool = False

    @model_validator(mode="after")
    def _references(self) -> RolloutPlan:
        known = {template.name for template in self.analysis_templates}
        if len(known) != len(self.analysis_templates):
            raise ValueError("analysisTemplates: template names must be unique")
        refs: list[tuple[str, AnalysisRef]] = [
            (f"strategy.canary.steps[{index}].analysis", step.analysis)
            for index, step in enumerate(self.strategy.canary.steps)
            if step.analysis is not None
        ]
        if self.strategy.canary.analysis is not None:
            refs.append(("strategy.canary.analysis", self.strategy.canary.analysis))
        for where, ref in refs:
            for template in ref.templates:
                if template.template_name not in known:
                    raise ValueError(
                        f"{where}: templateName {template.template_name!r} is not among "
                        f"analysisTemplates ({', '.join(sorted(known)) or 'none'}); add it"
                    )
        background = self.strategy.canary.analysis
        if background is not None and background.starting_step >= len(self.strategy.canary.steps):
            raise ValueError(
                f"strategy.canary.analysis.startingStep {background.starting_step} is past the "
                f"last step ({len(self.strategy.canary.steps) - 1})"
            )
        return self

    def template(self, name: str) -> AnalysisTemplate:
        return next(template for template in self.analysis_templates if template.name == name)

    def resolve(self, model: str, stable: str, candidate: str) -> RolloutSpec:
        """The full spec, with the versions chosen now (those set in the plan win)."""
        fields = self.model_dump(by_alias=True, exclude_none=True)
        fields.setdefault("model", model)
        fields.setdefault("stable", {"version": stable})
        fields.setdefault("candidate", {"version": candidate})
        return RolloutSpec.model_validate(fields)


class RolloutSpec(RolloutPlan):
    """A ModelRollout's spec: the plan with its model and both versions."""

    model: str = Field(..., min_length=1, description="Registered model name in MLflow.")
    stable: ModelRef
    candidate: ModelRef

    @model_validator(mode="after")
    def _versions_differ(self) -> RolloutSpec:
        if self.stable.version == self.candidate.version:
            raise ValueError(
                f"stable and candidate are both version {self.stable.version}; "
                "roll out a different version"
            )
        return self
