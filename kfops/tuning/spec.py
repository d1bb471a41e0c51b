"""Pure helpers over the ``tuning:`` section: the objective, parameter values, grids, checks.

Katib carries every parameter value as a string (``"100"``, ``"0.25"``, ``"sqrt"``); both
backends hand a trial its parameters in that form and :func:`parse_assignments` turns them
into the Python values the estimator gets, so a cluster trial and a local trial of the
same assignment fit the same model.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Mapping
from typing import Any

import yaml

from kfops.config import (
    KatibAlgorithm,
    KfopsConfig,
    ParameterType,
    TaskType,
    TuningConfig,
    TuningParameter,
    katib_string,
)
from kfops.errors import ConfigurationError
from kfops.metrics import DEFAULT_PROMOTION_METRIC, METRIC_DIRECTIONS, Direction

METRIC_TASKS: dict[str, TaskType] = {
    "accuracy": TaskType.CLASSIFICATION,
    "balanced_accuracy": TaskType.CLASSIFICATION,
    "precision": TaskType.CLASSIFICATION,
    "recall": TaskType.CLASSIFICATION,
    "f1": TaskType.CLASSIFICATION,
    "roc_auc": TaskType.CLASSIFICATION,
    "log_loss": TaskType.CLASSIFICATION,
    "rmse": TaskType.REGRESSION,
    "mae": TaskType.REGRESSION,
    "r2": TaskType.REGRESSION,
}
"""The task each metric of ``kfops.metrics`` is defined for."""

RANGED = (ParameterType.INT, ParameterType.DOUBLE)


def require_tuning(cfg: KfopsConfig) -> TuningConfig:
    if cfg.tuning is None:
        raise ConfigurationError(
            "tuning: the config has no tuning section; add one (see docs/tuning.md) "
            "or leave the tune step out"
        )
    return cfg.tuning


def objective_metric(cfg: KfopsConfig, task: TaskType) -> str:
    """``tuning.objective.metric``, else the champion gate's metric, else the task default."""
    tuning = require_tuning(cfg)
    return (
        tuning.objective.metric or cfg.registry.promotion_metric or DEFAULT_PROMOTION_METRIC[task]
    )


def objective_direction(tuning: TuningConfig, metric: str) -> Direction:
    if tuning.objective.type:
        return Direction(tuning.objective.type)
    return METRIC_DIRECTIONS[metric]


def is_better(candidate: float, incumbent: float | None, direction: Direction) -> bool:
    if incumbent is None:
        return True
    if direction is Direction.MAXIMIZE:
        return candidate > incumbent
    return candidate < incumbent


def goal_reached(best: float | None, goal: float | None, direction: Direction) -> bool:
    """Katib's rule: the experiment succeeds once the best value reaches the goal."""
    if best is None or goal is None:
        return False
    return best >= goal if direction is Direction.MAXIMIZE else best <= goal


def parse_value(param: TuningParameter, text: str) -> Any:
    """A Katib value string as the estimator takes it.

    int "12" -> 12; double "0.5" -> 0.5; discrete "50" -> 50, "0.5" -> 0.5; categorical
    values are read as YAML scalars: "sqrt" -> "sqrt", "null" -> None, "true" -> True.
    """
    try:
        if param.type is ParameterType.INT:
            number = float(text)
            if not number.is_integer():
                raise ValueError(text)
            return int(number)
        if param.type is ParameterType.DOUBLE:
            return float(text)
        if param.type is ParameterType.DISCRETE:
            number = float(text)
            return int(number) if number.is_integer() and "." not in text else number
    except ValueError:
        wanted = "a whole number" if param.type is ParameterType.INT else "a number"
        raise ConfigurationError(
            f"--param {param.name}={text}: {param.name} is {param.type}; pass {wanted}"
        ) from None
    try:
        return yaml.safe_load(text) if text.strip() else text
    except yaml.YAMLError:
        return text


def parse_assignments(tuning: TuningConfig, assignments: Mapping[str, str]) -> dict[str, Any]:
    """Typed estimator parameters from one trial's ``name -> Katib string`` assignments."""
    by_name = {p.name: p for p in tuning.parameters}
    unknown = [name for name in assignments if name not in by_name]
    if unknown:
        raise ConfigurationError(
            f"--param {unknown[0]}: not in tuning.parameters; use one of {', '.join(by_name)}"
        )
    missing = [name for name in by_name if name not in assignments]
    if missing:
        raise ConfigurationError(f"--param {missing[0]}: missing; pass --param {missing[0]}=VALUE")
    return {name: parse_value(by_name[name], str(text)) for name, text in assignments.items()}


def split_param_args(args: list[str]) -> dict[str, str]:
    """``["n_estimators=50", "max_features=sqrt"]`` -> ``{"n_estimators": "50", ...}``."""
    pairs: dict[str, str] = {}
    for arg in args:
        name, sep, value = arg.partition("=")
        if not sep or not name.strip():
            raise ConfigurationError(f"--param '{arg}': expected NAME=VALUE, e.g. n_estimators=50")
        pairs[name.strip()] = value
    return pairs


def grid_values(param: TuningParameter) -> list[str]:
    """Every value Katib's grid visits, as Katib strings.

    int min 10, max 30, step 10 -> "10", "20", "30" (step 1 when absent); double needs a
    step: min 0.1, max 0.3, step 0.1 -> "0.1", "0.2", "0.3" (rounded to 12 digits, so float
    error never adds or drops a point); lists are taken as they are.
    """
    space = param.feasible_space
    if param.type not in RANGED:
        return list(space.list or [])
    low, high = float(space.min or 0), float(space.max or 0)
    step = float(space.step) if space.step else (1.0 if param.type is ParameterType.INT else 0.0)
    if step <= 0:
        return []
    count = math.floor(round((high - low) / step, 9)) + 1
    values = [round(low + k * step, 12) for k in range(count)]
    if param.type is ParameterType.INT:
        return [str(int(v)) for v in values]
    return [katib_string(v) for v in values]


def grid_size(tuning: TuningConfig) -> int:
    return math.prod(len(grid_values(p)) for p in tuning.parameters)


def estimator_parameter_names(estimator: str) -> list[str] | None:
    """Constructor arguments of the estimator class; None when it takes ``**kwargs``."""
    from kfops.training.estimator import load_estimator_class

    signature = inspect.signature(load_estimator_class(estimator).__init__)
    if any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values()):
        return None
    return [name for name in signature.parameters if name != "self"]


def check_tuning(cfg: KfopsConfig, task: TaskType) -> None:
    """Checks that need the task or the estimator, or that Katib's webhook and suggestion
    services make; the structural ones run when the config is loaded.

    Raises:
        ConfigurationError: naming the field, e.g. ``tuning.parameters[1].name``.
    """
    tuning = require_tuning(cfg)
    metric = objective_metric(cfg, task)
    if METRIC_TASKS[metric] is not task:
        fits = ", ".join(m for m, t in METRIC_TASKS.items() if t is task)
        raise ConfigurationError(
            f"tuning.objective.metric: {metric} is not defined for {task}; use one of {fits}"
        )
    estimator = cfg.model.estimator_for(task)
    known = estimator_parameter_names(estimator)
    for i, param in enumerate(tuning.parameters):
        if known is not None and param.name not in known:
            shown = ", ".join(known[:15]) + (", ..." if len(known) > 15 else "")
            raise ConfigurationError(
                f"tuning.parameters[{i}].name: {estimator} has no parameter '{param.name}'; "
                f"use one of: {shown}"
            )
    name = tuning.algorithm.name
    if name is KatibAlgorithm.GRID:
        for i, param in enumerate(tuning.parameters):
            if param.type is ParameterType.DOUBLE and not param.feasible_space.step:
                raise ConfigurationError(
                    f"tuning.parameters[{i}].feasible_space.step: grid needs a step for "
                    f"double '{param.name}'; add one, e.g. step: 0.1"
                )
        size = grid_size(tuning)
        if tuning.max_trial_count > size:
            raise ConfigurationError(
                f"tuning.max_trial_count: {tuning.max_trial_count} is above the {size} points "
                f"of the grid (Katib rejects it); set it to {size} or less"
            )
    if name is KatibAlgorithm.CMAES and sum(p.type in RANGED for p in tuning.parameters) < 2:
        raise ConfigurationError(
            "tuning.algorithm.name: cmaes needs two or more int or double parameters; "
            "add one or use tpe"
        )
