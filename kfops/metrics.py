"""Names and directions of model-quality metrics, declared once.

The registry's champion gate and the evaluator both read this table, so "is higher
better?" is never answered twice.
"""

from __future__ import annotations

from enum import StrEnum

from kfops.errors import ConfigurationError


class Direction(StrEnum):
    MAXIMIZE = "maximize"
    MINIMIZE = "minimize"


METRIC_DIRECTIONS: dict[str, Direction] = {
    "accuracy": Direction.MAXIMIZE,
    "balanced_accuracy": Direction.MAXIMIZE,
    "precision": Direction.MAXIMIZE,
    "recall": Direction.MAXIMIZE,
    "f1": Direction.MAXIMIZE,
    "roc_auc": Direction.MAXIMIZE,
    "log_loss": Direction.MINIMIZE,
    "rmse": Direction.MINIMIZE,
    "mae": Direction.MINIMIZE,
    "r2": Direction.MAXIMIZE,
}

DEFAULT_PROMOTION_METRIC: dict[str, str] = {"classification": "roc_auc", "regression": "rmse"}
"""By task (``kfops.config.TaskType`` values); the config imports this module, not the reverse."""


def direction_of(metric: str) -> Direction:
    try:
        return METRIC_DIRECTIONS[metric]
    except KeyError:
        known = ", ".join(sorted(METRIC_DIRECTIONS))
        raise ConfigurationError(
            f"registry.promotion_metric: unknown metric '{metric}'; use one of {known}"
        ) from None


def improvement(metric: str, candidate: float, incumbent: float) -> float:
    """Signed gain of candidate over incumbent, positive when the candidate is better.

    Example: rmse 4.0 against 5.0 is an improvement of +1.0; roc_auc 0.80 against 0.85
    is -0.05.
    """
    if direction_of(metric) is Direction.MAXIMIZE:
        return candidate - incumbent
    return incumbent - candidate
