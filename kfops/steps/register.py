"""Register and promote steps: a new challenger version, then the champion gate."""

from __future__ import annotations

from typing import Any

from kfops.config import config_from_dict
from kfops.registry.tracking import use_tracking
from kfops.registry.versions import promote, register_challenger, version_of_run
from kfops.steps.results import PromoteResult, RegisterResult


def _use(cfg) -> None:
    use_tracking(
        cfg.resolved_tracking_uri(),
        cfg.experiment_name,
        cfg.resolved_artifact_location(),
        cfg.tracking.registry_uri,
    )


def run_register(
    config: dict[str, Any], run_id: str, model_uri: str, metric: str, score: float
) -> RegisterResult:
    """Register the run's model as ``challenger`` and return the gate's decision."""
    cfg = config_from_dict(config)
    _use(cfg)
    version, gate = register_challenger(
        cfg.model_name, model_uri, run_id, metric, score, cfg.registry.min_improvement
    )
    return RegisterResult(version=version, gate=gate)


def run_promote(config: dict[str, Any], run_id: str) -> PromoteResult:
    """Move ``champion`` to the run's version."""
    cfg = config_from_dict(config)
    _use(cfg)
    version = version_of_run(cfg.model_name, run_id)
    previous = promote(cfg.model_name, version)
    print(f"champion: v{previous or '-'} -> v{version}")
    return PromoteResult(version=version, previous=previous)
