"""Whether an alert notification starts a retraining run: at most one per cool-down.

Alertmanager sends one notification per group and repeats it; a drift storm makes many
groups (one per feature, model or severity). Runs are rate-limited per trigger, not per
group, so a storm starts one run and the repeats within the cool-down start none. The
decision and the start happen under one lock: two notifications arriving together cannot
both pass the check.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from kfops.retraining.alerts import AlertGroup

DEFAULT_ALERTS = frozenset({"KfopsFeatureDrift"})
"""Alerts that start retraining unless configured otherwise (kfops.monitoring's drift alert)."""


@dataclass(frozen=True)
class TriggerDecision:
    start: bool
    reason: str
    group_key: str
    alerts: tuple[str, ...] = ()
    run_id: str | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "started": self.start and self.run_id is not None,
            "run_id": self.run_id,
            "reason": self.reason,
            "group_key": self.group_key,
            "alerts": list(self.alerts),
        }


@dataclass
class RetrainingTrigger:
    """Starts ``launch`` for a firing group of retraining alerts, once per ``cooldown_s``."""

    launch: Callable[[AlertGroup, tuple[str, ...]], str]
    cooldown_s: float = 3600.0
    alert_names: frozenset[str] = DEFAULT_ALERTS
    clock: Callable[[], float] = time.monotonic
    last_start: float | None = None
    last_run_id: str | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def _describe(self, alerts: list) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for alert in alerts:
            feature = alert.labels.get("feature")
            seen[f"{alert.name}{{feature={feature}}}" if feature else alert.name] = None
        return tuple(seen)

    def handle(self, group: AlertGroup) -> TriggerDecision:
        firing = group.firing(self.alert_names)
        key = group.group_key
        if group.status == "resolved" or not firing:
            names = ", ".join(sorted(self.alert_names)) or "any alert"
            return TriggerDecision(False, f"no firing alert among {names}: nothing to do", key)
        described = self._describe(firing)
        with self._lock:
            now = self.clock()
            if self.last_start is not None and now - self.last_start < self.cooldown_s:
                ago = now - self.last_start
                return TriggerDecision(
                    False,
                    f"cool-down: run {self.last_run_id} started {ago:.0f} s ago "
                    f"(next possible in {self.cooldown_s - ago:.0f} s)",
                    key,
                    described,
                )
            run_id = self.launch(group, described)
            self.last_start, self.last_run_id = now, run_id
        return TriggerDecision(True, "retraining started", key, described, run_id)
