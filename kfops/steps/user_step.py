"""Run one of the user's ``steps:`` functions on the pipeline's data.

After ingest or features a step gets each split as a DataFrame and returns the split the
pipeline goes on with (``fn(frame, **params) -> DataFrame``; with a ``split`` parameter
it is also told ``"train"`` or ``"test"``). After evaluate it gets the fitted model and
the test split and returns extra metrics (``fn(model, test, **params) -> dict``), which
join the candidate's MLflow run before the gate. Whatever goes wrong is one line that
names the step.
"""

from __future__ import annotations

import inspect
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kfops.config import StepPoint, UserStepConfig, config_from_dict
from kfops.errors import ConfigurationError, KfopsError, PipelineError, one_line

SPLITS = ("train", "test")
SPLIT_PARAMETER = "split"


@dataclass(frozen=True)
class UserStepResult:
    """Rows of each split after a frame step, or the metrics of an after-evaluate step."""

    step: str
    rows: dict[str, int] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"step": self.step, "rows": dict(self.rows), "metrics": dict(self.metrics)}


def _key(spec: UserStepConfig) -> str:
    return f"steps.{spec.name}"


def find_step(config: dict[str, Any], name: str) -> tuple[UserStepConfig, str | None]:
    """The step's settings in the run's config, and the project folder its code is in."""
    cfg = config_from_dict(config)
    for spec in cfg.steps:
        if spec.name == name:
            return spec, cfg.base_dir
    raise ConfigurationError(f"steps: no step named '{name}'; the config lists none by that name")


def load_function(spec: UserStepConfig, code_root: str | None) -> Callable[..., Any]:
    from kfops.training.user_code import import_object

    if spec.function is None:
        raise ConfigurationError(
            f"{_key(spec)}: a component: step runs its own image, not a kfops function"
        )
    function = import_object(spec.function, f"{_key(spec)}.function", code_root)
    if not callable(function):
        raise ConfigurationError(
            f"{_key(spec)}.function: '{spec.function}' is not a function; name one"
        )
    return function


def _call(spec: UserStepConfig, function: Callable[..., Any], *args: Any, **extra: Any) -> Any:
    try:
        accepted = inspect.signature(function).parameters
    except (TypeError, ValueError):
        accepted = {}
    keywords = {k: v for k, v in extra.items() if k in accepted}
    try:
        return function(*args, **keywords, **spec.params)
    except KfopsError as exc:
        raise type(exc)(f"{_key(spec)}: {exc.message}") from exc
    except TypeError as exc:
        raise PipelineError(
            f"{_key(spec)}: calling {spec.function} failed ({one_line(exc)}); check its "
            "parameters against the step's params:"
        ) from exc
    except Exception as exc:  # the user's own code: any error
        raise PipelineError(
            f"{_key(spec)}: {spec.function} raised {type(exc).__name__}: {one_line(exc)}; "
            "fix the step (its test runs it without a pipeline)"
        ) from exc


def run_frame_step(
    config: dict[str, Any], name: str, inputs: dict[str, str], outputs: dict[str, str]
) -> UserStepResult:
    """Apply the step to each split (``inputs``/``outputs``: Parquet paths by split)."""
    import pandas as pd

    spec, code_root = find_step(config, name)
    function = load_function(spec, code_root)
    rows: dict[str, int] = {}
    for split in SPLITS:
        frame = pd.read_parquet(inputs[split])
        result = _call(spec, function, frame, **{SPLIT_PARAMETER: split})
        if not isinstance(result, pd.DataFrame):
            raise PipelineError(
                f"{_key(spec)}: {spec.function} returned {type(result).__name__} for the "
                f"{split} split; a step after {spec.after} must return a pandas DataFrame"
            )
        if result.empty:
            raise PipelineError(
                f"{_key(spec)}: {spec.function} left no rows in the {split} split; keep some"
            )
        os.makedirs(os.path.dirname(outputs[split]) or ".", exist_ok=True)
        result.to_parquet(outputs[split], index=False)
        rows[split] = len(result)
    return UserStepResult(step=name, rows=rows)


def run_model_step(
    config: dict[str, Any], name: str, model_path: str, test_path: str, run_id: str
) -> UserStepResult:
    """Call an after-evaluate step with the model and the test split; log its metrics."""
    import joblib
    import pandas as pd

    spec, code_root = find_step(config, name)
    if spec.after is not StepPoint.EVALUATE:
        raise ConfigurationError(f"{_key(spec)}: only a step after evaluate gets the model")
    function = load_function(spec, code_root)
    model = joblib.load(model_path)
    test = pd.read_parquet(test_path)
    returned = _call(spec, function, model, test)
    metrics = _metrics(spec, returned)
    if metrics and run_id:
        _log_metrics(config, run_id, metrics)
    return UserStepResult(step=name, metrics=metrics)


def _log_metrics(config: dict[str, Any], run_id: str, metrics: dict[str, float]) -> None:
    """Add the step's metrics to the candidate's run, beside evaluate's."""
    import mlflow

    from kfops.registry.tracking import use_config_tracking

    cfg = config_from_dict(config)
    use_config_tracking(cfg)
    with mlflow.start_run(run_id=run_id):
        mlflow.log_metrics(metrics)


def _metrics(spec: UserStepConfig, returned: Any) -> dict[str, float]:
    if returned is None:
        return {}
    if not isinstance(returned, dict):
        raise PipelineError(
            f"{_key(spec)}: {spec.function} returned {type(returned).__name__}; a step after "
            "evaluate returns a dict of metric name to number, or None"
        )
    metrics: dict[str, float] = {}
    for key, value in returned.items():
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = math.nan
        if math.isnan(number):
            raise PipelineError(
                f"{_key(spec)}: metric '{key}' is {value!r}, not a number; return numbers"
            )
        metrics[str(key)] = number
    return metrics
