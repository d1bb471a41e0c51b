"""Register and promote steps: a new challenger version, then the champion gate."""

from __future__ import annotations

from typing import Any

from kfops.config import config_from_dict
from kfops.config.sections import PromotionMode
from kfops.registry.champion import CHALLENGER, CHAMPION
from kfops.registry.tracking import use_config_tracking
from kfops.registry.versions import alias_version, promote, register_challenger, version_of_run
from kfops.steps.results import PromoteResult, RegisterResult


def run_register(
    config: dict[str, Any], run_id: str, model_uri: str, metric: str, score: float
) -> RegisterResult:
    """Register the run's model and return the gate's decision (a winner is ``challenger``)."""
    cfg = config_from_dict(config)
    use_config_tracking(cfg)
    version, gate = register_challenger(
        cfg.model_name, model_uri, run_id, metric, score, cfg.registry.min_improvement
    )
    return RegisterResult(version=version, gate=gate)


def run_promote(config: dict[str, Any], run_id: str) -> PromoteResult:
    """Move ``champion`` to the run's version, the version that passed the gate.

    With ``registry.promotion: rollout`` champion moves only when there is none yet (a
    fresh project can serve at once); otherwise the version stays ``challenger`` and the
    rollout, which compares it with the champion on live traffic, moves champion.
    """
    cfg = config_from_dict(config)
    use_config_tracking(cfg)
    version = version_of_run(cfg.model_name, run_id)
    current = alias_version(cfg.model_name, CHAMPION)
    current = None if current is None else str(current)  # MLflow may hand out an int
    if cfg.promotion is PromotionMode.ROLLOUT and current is not None and current != version:
        print(
            f"champion stays v{current}; {CHALLENGER} v{version} waits for its rollout "
            "(kfops rollout start)"
        )
        return PromoteResult(version=version, previous=current, moved=False)
    previous = promote(cfg.model_name, version)
    print(f"champion: v{previous or '-'} -> v{version}")
    return PromoteResult(version=version, previous=previous)
