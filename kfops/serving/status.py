"""Reading an InferenceService's status: Ready, failed for good, or still progressing. Pure.

KServe reports conditions (``Ready``, ``PredictorReady``, ``IngressReady``...) and, per
component, a model status. A status counts only once KServe has seen the applied spec:
when ``status.observedGeneration`` is reported it must reach ``metadata.generation``, else
a Ready left over from the previous version would end the wait before the new one rolls out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Reasons after which waiting cannot help: the spec or the model itself is wrong.
TERMINAL_REASONS = frozenset(
    {"RevisionFailed", "InvalidSpec", "ModelLoadFailed", "InvalidPredictorSpec", "FailedToLoad"}
)


@dataclass(frozen=True)
class Readiness:
    ready: bool
    failed: bool
    summary: str
    url: str | None = None


def _conditions(status: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for c in status.get("conditions") or [] if isinstance(c, dict)]


def describe(status: dict[str, Any]) -> str:
    """``PredictorReady=False (RevisionMissing: no ready revision)``, for the not-True ones."""
    parts = []
    for c in _conditions(status):
        if c.get("status") != "True":
            detail = ": ".join(str(x) for x in (c.get("reason"), c.get("message")) if x)
            parts.append(f"{c.get('type')}={c.get('status')}" + (f" ({detail})" if detail else ""))
    return "; ".join(parts) or "no conditions reported yet"


def readiness(obj: dict[str, Any]) -> Readiness:
    status = obj.get("status") or {}
    generation = (obj.get("metadata") or {}).get("generation")
    observed = status.get("observedGeneration")
    if generation is not None and observed is not None and observed < generation:
        return Readiness(False, False, f"waiting for KServe to observe generation {generation}")
    model = status.get("modelStatus") or {}
    failure = model.get("lastFailureInfo") or {}
    target = (model.get("states") or {}).get("targetModelState")
    if failure.get("reason") in TERMINAL_REASONS or target == "FailedToLoad":
        detail = ": ".join(str(x) for x in (failure.get("reason"), failure.get("message")) if x)
        return Readiness(False, True, f"the model failed to load ({detail or target})")
    for c in _conditions(status):
        if c.get("status") == "False" and c.get("reason") in TERMINAL_REASONS:
            return Readiness(False, True, describe(status))
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in _conditions(status))
    return Readiness(ready, False, "Ready" if ready else describe(status), status.get("url"))
