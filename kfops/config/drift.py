"""The ``drift:`` section: thresholds and window of ``kfops drift`` on served traffic."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import Field, field_validator

from kfops.config.sections import Strict

Threshold = Annotated[float, Field(gt=0.0, le=1.0)]
DURATION_PATTERN = re.compile(r"^(\d+(?:\.\d+)?)([smhdw])$")
DURATION_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def duration_seconds(text: str) -> float | None:
    """``90s``, ``15m``, ``24h``, ``7d``, ``2w`` in seconds; None when it is no duration."""
    found = DURATION_PATTERN.match(text.strip())
    if not found or float(found.group(1)) <= 0:
        return None
    return float(found.group(1)) * DURATION_SECONDS[found.group(2)]


class DriftConfig(Strict):
    """How far served inputs may move from training (skew) and from the last window (drift).

    Distances are TFDV's: Jensen-Shannon divergence for numeric features, L-infinity for
    categorical ones, both between 0 (same) and 1, so a threshold lies in (0, 1].
    """

    threshold: Threshold = Field(0.1, description="Distance above which a feature drifted.")
    features: dict[str, Threshold] = Field(
        default_factory=dict, description="Per-feature thresholds over the default."
    )
    max_metric_drop: float = Field(
        0.05,
        ge=0.0,
        description="With --feedback: how far the live metric may fall below the registered score.",
    )
    window: str = Field("24h", description="Default --since: the window checked, e.g. 1h, 7d.")
    report_dir: str | None = Field(
        None, description="Where reports go; default <runtime.root>/drift."
    )
    textfile: str | None = Field(
        None, description="node-exporter textfile (.prom) the gauges are written to."
    )
    pushgateway: str | None = Field(
        None, description="Pushgateway address the gauges are pushed to (job kfops-drift)."
    )

    @field_validator("window")
    @classmethod
    def _window_is_a_duration(cls, value: str) -> str:
        if duration_seconds(value) is None:
            raise ValueError("not a duration; use a number and a unit: 30m, 24h, 7d")
        return value.strip()

    def threshold_for(self, feature: str) -> float:
        return self.features.get(feature, self.threshold)
