"""The ``tuning:`` section in Katib's terms, and the rules Katib's webhook would enforce."""

from __future__ import annotations

import builtins
from enum import StrEnum
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from kfops.config.sections import Strict
from kfops.metrics import METRIC_DIRECTIONS


class TuningBackend(StrEnum):
    AUTO = "auto"  # Katib when running inside a Kubernetes pod, the embedded tuner elsewhere
    LOCAL = "local"
    KATIB = "katib"


class ParameterType(StrEnum):
    INT = "int"
    DOUBLE = "double"
    DISCRETE = "discrete"
    CATEGORICAL = "categorical"


class KatibAlgorithm(StrEnum):
    RANDOM = "random"
    TPE = "tpe"
    MULTIVARIATE_TPE = "multivariate-tpe"
    GRID = "grid"
    CMAES = "cmaes"
    SOBOL = "sobol"
    BAYESIAN_OPTIMIZATION = "bayesianoptimization"
    HYPERBAND = "hyperband"


KATIB_ALGORITHM_SETTINGS: dict[KatibAlgorithm, tuple[str, ...]] = {
    KatibAlgorithm.RANDOM: ("random_state",),
    KatibAlgorithm.TPE: ("n_startup_trials", "n_ei_candidates", "random_state"),
    KatibAlgorithm.MULTIVARIATE_TPE: ("n_startup_trials", "n_ei_candidates", "random_state"),
    KatibAlgorithm.GRID: ("random_state",),
    KatibAlgorithm.CMAES: ("random_state", "sigma", "restart_strategy"),
    KatibAlgorithm.SOBOL: (),
    KatibAlgorithm.BAYESIAN_OPTIMIZATION: (
        "base_estimator",
        "n_initial_points",
        "acq_func",
        "acq_optimizer",
        "random_state",
    ),
    KatibAlgorithm.HYPERBAND: ("resource_name", "eta", "r_l"),
}
"""Katib's algorithms and the algorithmSettings its suggestion service for each accepts."""

_SETTING_CHOICES: dict[str, tuple[str, ...]] = {
    "restart_strategy": ("ipop", "bipop", "none"),
    "base_estimator": ("GP", "RF", "ET", "GBRT"),
    "acq_func": ("gp_hedge", "LCB", "EI", "PI", "EIps", "PIps"),
    "acq_optimizer": ("auto", "sampling", "lbfgs"),
}
_INT_SETTINGS = ("n_startup_trials", "n_ei_candidates", "random_state", "n_initial_points")


def katib_string(value: Any) -> str:
    """Katib carries values as strings. Integral floats become ints, since KFP passes every
    number as a double (100 -> 100.0); quote a value in YAML ('1.0') to keep it a float."""
    if isinstance(value, bool) or value is None:
        return {True: "true", False: "false", None: "null"}[value]
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _as_number(text: str | None) -> float | None:
    try:
        return float(text) if text is not None else None
    except ValueError:
        return None


class TuningObjective(Strict):
    metric: str | None = Field(
        None, description="A kfops.metrics name; default the promotion metric."
    )
    type: Literal["maximize", "minimize"] | None = Field(
        None, description="Default the metric's own direction."
    )
    goal: float | None = Field(None, description="Stop once the best trial reaches it.")

    @field_validator("metric")
    @classmethod
    def _known(cls, value: str | None) -> str | None:
        if value is not None and value not in METRIC_DIRECTIONS:
            raise ValueError(f"unknown metric '{value}'; use one of {', '.join(METRIC_DIRECTIONS)}")
        return value


class TuningAlgorithm(Strict):
    name: KatibAlgorithm = KatibAlgorithm.TPE
    settings: dict[str, str] = Field(default_factory=dict, description="Katib algorithmSettings.")

    @field_validator("settings", mode="before")
    @classmethod
    def _strings(cls, value: Any) -> Any:
        return {k: katib_string(v) for k, v in value.items()} if isinstance(value, dict) else value


class FeasibleSpace(Strict):
    min: str | None = None
    max: str | None = None
    step: str | None = None
    list: builtins.list[str] | None = None
    distribution: Literal["uniform", "log_uniform"] | None = None

    @field_validator("min", "max", "step", mode="before")
    @classmethod
    def _bound(cls, value: Any) -> Any:
        return katib_string(value) if isinstance(value, int | float) else value

    @field_validator("list", mode="before")
    @classmethod
    def _values(cls, value: Any) -> Any:
        return [katib_string(v) for v in value] if isinstance(value, builtins.list) else value


class TuningParameter(Strict):
    name: str = Field(..., min_length=1, description="A constructor argument of the estimator.")
    type: ParameterType
    feasible_space: FeasibleSpace


class EarlyStopping(Strict):
    name: Literal["medianstop"] = "medianstop"
    min_trials_required: int = Field(3, ge=1)
    start_step: int = Field(2, ge=1, description="Counted in CV folds; Katib's default is 4.")


class TuningConfig(Strict):
    """Katib's Experiment spec in snake_case; the same spec drives the embedded tuner."""

    backend: TuningBackend = TuningBackend.AUTO
    objective: TuningObjective = Field(default_factory=TuningObjective)
    algorithm: TuningAlgorithm = Field(default_factory=TuningAlgorithm)
    parallel_trial_count: int = Field(3, ge=1)
    max_trial_count: int = Field(12, ge=1)
    max_failed_trial_count: int = Field(3, ge=0)
    parameters: list[TuningParameter] = Field(..., min_length=1)
    early_stopping: EarlyStopping | None = None
    cv_folds: int = Field(3, ge=2, le=20, description="Each trial's score: mean over k folds.")
    timeout_seconds: int = Field(21600, ge=1)

    @model_validator(mode="after")
    def _consistent(self) -> TuningConfig:
        problem = _tuning_problem(self)
        if problem:
            raise ValueError(problem)
        return self


def _space_problem(where: str, param: TuningParameter) -> str | None:
    space, ranged = param.feasible_space, param.type in (ParameterType.INT, ParameterType.DOUBLE)
    kind = "an integer" if param.type is ParameterType.INT else "a number"
    if ranged:
        if space.list is not None:
            return f"{where}.list: not used by type {param.type}; give min and max"
        for key in ("min", "max", "step"):
            text = getattr(space, key)
            number = _as_number(text)
            if text is None and key != "step":
                return f"{where}.{key}: required for type {param.type}; add it"
            if text is not None and (
                number is None or (kind == "an integer" and not number.is_integer())
            ):
                return f"{where}.{key}: '{text}' is not {kind}; write it like {'10' if kind == 'an integer' else '0.1'}"
        low, high, step = _as_number(space.min), _as_number(space.max), _as_number(space.step)
        assert low is not None and high is not None
        if low >= high:
            return f"{where}.min: {space.min} is not below max {space.max}; swap or widen them"
        if step is not None and not 0 < step <= high - low:
            return (
                f"{where}.step: {space.step} must be above 0 and at most max - min ({high - low:g})"
            )
        if space.distribution == "log_uniform" and low <= 0:
            return f"{where}.min: log_uniform needs min above 0, got {space.min}"
        return None
    for key in ("min", "max", "step", "distribution"):
        if getattr(space, key) is not None:
            return f"{where}.{key}: not used by type {param.type}; list the values instead"
    if not space.list:
        return f"{where}.list: type {param.type} needs a non-empty list of values"
    if len(set(space.list)) != len(space.list):
        return f"{where}.list: values repeat; list each value once"
    bad = [v for v in space.list if _as_number(v) is None]
    if param.type is ParameterType.DISCRETE and bad:
        return f"{where}.list: '{bad[0]}' is not a number; discrete values are numbers, use categorical for others"
    return None


def _setting_problem(name: str, value: str, parameters: list[TuningParameter]) -> str | None:
    if name in _INT_SETTINGS and not value.isdigit():
        return f"'{value}' is not a whole number >= 0"
    if name in _SETTING_CHOICES and value not in _SETTING_CHOICES[name]:
        return f"'{value}' is not one of {', '.join(_SETTING_CHOICES[name])}"
    if name in ("sigma", "eta", "r_l") and not (_as_number(value) or 0) > 0:
        return f"'{value}' is not a number above 0"
    if name == "resource_name" and value not in {p.name for p in parameters}:
        return f"'{value}' names no parameter in tuning.parameters"
    return None


def _tuning_problem(cfg: TuningConfig) -> str | None:
    """The first inconsistency in a tuning section, as 'field.path: problem; fix', or None."""
    objective = cfg.objective
    if (
        objective.metric
        and objective.type
        and objective.type != METRIC_DIRECTIONS[objective.metric]
    ):
        wanted = METRIC_DIRECTIONS[objective.metric]
        return f"tuning.objective.type: {objective.metric} is to {wanted}, not {objective.type}; remove type or set {wanted}"
    known = KATIB_ALGORITHM_SETTINGS[cfg.algorithm.name]
    for name, value in cfg.algorithm.settings.items():
        where = f"tuning.algorithm.settings.{name}"
        if name not in known:
            allowed = ", ".join(known) or "none"
            return f"{where}: {cfg.algorithm.name} has no setting '{name}'; use one of: {allowed}"
        problem = _setting_problem(name, value, cfg.parameters)
        if problem:
            return f"{where}: {problem}"
    if cfg.parallel_trial_count > cfg.max_trial_count:
        return f"tuning.parallel_trial_count: {cfg.parallel_trial_count} is above max_trial_count {cfg.max_trial_count}; lower it"
    if cfg.max_failed_trial_count > cfg.max_trial_count:
        return f"tuning.max_failed_trial_count: {cfg.max_failed_trial_count} is above max_trial_count {cfg.max_trial_count}; lower it"
    if cfg.early_stopping and cfg.early_stopping.start_step > cfg.cv_folds:
        return f"tuning.early_stopping.start_step: {cfg.early_stopping.start_step} is above cv_folds {cfg.cv_folds} (steps are folds), so it never fires; lower it"
    seen: set[str] = set()
    for i, param in enumerate(cfg.parameters):
        if param.name in seen:
            return f"tuning.parameters[{i}].name: '{param.name}' is tuned twice; keep one entry"
        seen.add(param.name)
        problem = _space_problem(f"tuning.parameters[{i}].feasible_space", param)
        if problem:
            return problem
    return None
