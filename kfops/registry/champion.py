"""The champion gate: a pure decision, so it is table-tested without a registry."""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

from kfops.metrics import improvement

CHAMPION = "champion"
CHALLENGER = "challenger"
DECISION_TAG = "kfops.promotion.decision"
"""Version tag holding the gate's decision (a ``GateDecision`` value)."""


class GateDecision(StrEnum):
    """The gate's outcome. Its value is what the register step returns, what the training
    pipeline's condition compares with, and what the ``kfops.promotion.decision`` tag holds.

    ``PROMOTE``: the version won and is a candidate (alias ``challenger``; ``champion`` too
    at once with ``registry.promotion: direct``, or after its rollout with ``rollout``).
    ``KEEP``: it lost; it gets no alias and a rollout refuses it unless forced.
    """

    PROMOTE = "promote"
    KEEP = "keep"


@dataclass(frozen=True)
class PromotionDecision:
    outcome: GateDecision
    metric: str
    challenger_score: float
    champion_score: float | None
    champion_version: str | None
    min_improvement: float
    reason: str

    @property
    def promote(self) -> bool:
        return self.outcome is GateDecision.PROMOTE


def decide_promotion(
    metric: str,
    challenger_score: float,
    champion_score: float | None,
    min_improvement: float,
    champion_version: str | None = None,
) -> PromotionDecision:
    """Promote when there is no champion, or the challenger beats it by the margin.

    The margin is strict-or-equal on the signed gain: with roc_auc, champion 0.80 and
    min_improvement 0.01, a challenger at 0.81 is promoted (gain 0.01) and 0.805 is not.
    A NaN challenger score is never promoted; a NaN champion score is always beaten.
    """
    if champion_version is not None:
        champion_version = str(champion_version)  # MLflow hands versions out as int or str

    def decision(promote: bool, reason: str) -> PromotionDecision:
        return PromotionDecision(
            outcome=GateDecision.PROMOTE if promote else GateDecision.KEEP,
            metric=metric,
            challenger_score=challenger_score,
            champion_score=champion_score,
            champion_version=champion_version,
            min_improvement=min_improvement,
            reason=reason,
        )

    if math.isnan(challenger_score):
        return decision(False, f"challenger {metric} is NaN")
    if champion_score is None:
        return decision(True, "no champion yet")
    if math.isnan(champion_score):
        return decision(True, f"champion v{champion_version} has no usable {metric}")
    gain = improvement(metric, challenger_score, champion_score)
    # Round away float noise so 0.81 - 0.80 counts as exactly the 0.01 margin.
    if round(gain - min_improvement, 12) >= 0:
        return decision(
            True,
            f"{metric} {challenger_score:.4f} beats champion v{champion_version} "
            f"{champion_score:.4f} by {gain:+.4f} (needed {min_improvement:+.4f})",
        )
    return decision(
        False,
        f"{metric} {challenger_score:.4f} does not beat champion v{champion_version} "
        f"{champion_score:.4f} by {min_improvement:+.4f} (gain {gain:+.4f})",
    )
