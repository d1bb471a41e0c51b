"""Data validation with TensorFlow Data Validation (statistics, schema, anomalies).

Kept import-light on purpose: ``python -m kfops.validation.tfdv_worker`` runs this file
first inside the TFDV runtime, which has neither pydantic nor kfp. The public names are
loaded on first use (PEP 562), so ``from kfops.validation import validate_splits`` works
in the main environment without the worker paying for it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kfops.validation.anomalies import Anomaly, AnomalyKind
    from kfops.validation.validate import ValidationReport, validate_splits

__all__ = ["Anomaly", "AnomalyKind", "ValidationReport", "validate_splits"]

_HOMES = {
    "Anomaly": "kfops.validation.anomalies",
    "AnomalyKind": "kfops.validation.anomalies",
    "ValidationReport": "kfops.validation.validate",
    "validate_splits": "kfops.validation.validate",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'kfops.validation' has no attribute '{name}'")
    import importlib

    return getattr(importlib.import_module(home), name)
