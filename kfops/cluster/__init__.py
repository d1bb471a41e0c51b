"""Running kfops pipelines on a Kubeflow cluster.

- :mod:`kfops.cluster.task_settings`: image, resources, node selector and secrets per task;
- :mod:`kfops.cluster.cron`: validation of KFP's 6-field cron expressions (pure);
- :mod:`kfops.cluster.client`: submitting runs and recurring runs through ``kfp.Client``.

The names below are imported lazily, so that ``import kfops.cluster.cron`` (used while
parsing CLI flags) does not pay for importing kfp.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "COMPONENT_NAMES": "kfops.cluster.task_settings",
    "apply_task_settings": "kfops.cluster.task_settings",
    "check_component_names": "kfops.cluster.task_settings",
    "image_for": "kfops.cluster.task_settings",
    "parse_cron": "kfops.cluster.cron",
    "schedule_run": "kfops.cluster.client",
    "submit_run": "kfops.cluster.client",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'kfops.cluster' has no attribute '{name}'")
