"""The pure rollout engine: Argo Rollouts' canary semantics as functions of the spec, the
status and the measurements. Nothing in this package does I/O (an import-linter contract
keeps kubernetes, kopf, httpx, aiohttp, mlflow and prometheus_client out of it)."""

from kfops.rollout.engine.analysis import Measurement, MeasurementRequest
from kfops.rollout.engine.machine import (
    Decision,
    apply_command,
    check_spec,
    desired_traffic,
    due_measurements,
    reconcile,
)

__all__ = [
    "Decision",
    "Measurement",
    "MeasurementRequest",
    "apply_command",
    "check_spec",
    "desired_traffic",
    "due_measurements",
    "reconcile",
]
