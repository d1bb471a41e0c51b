"""The statistics that close an A/B experiment: is the candidate better than stable?

Two tests, both two-sided at level ``alpha``, both computed from per-variant summaries that
Prometheus queries give (counts, means, variances), never from raw requests:

* two-proportion z-test (conversion, accuracy, error rate)::

      p_s = x_s / n_s,  p_c = x_c / n_c,  p = (x_s + x_c) / (n_s + n_c)
      z = (p_c - p_s) / sqrt(p (1 - p) (1/n_s + 1/n_c)),  p-value = erfc(|z| / sqrt 2)

  Worked example: stable 100 of 1000, candidate 130 of 1000 -> p = 0.115,
  se = sqrt(0.115 * 0.885 * 0.002) = 0.014267, z = 0.03 / 0.014267 = 2.103,
  p-value = 0.0355: significant at 0.05, candidate higher.
* Welch's t-test from summary statistics (latency, score): unequal variances, the
  Welch-Satterthwaite degrees of freedom (``scipy.stats.ttest_ind_from_stats``).

The decision is ``candidate-better`` or ``candidate-worse`` when the p-value is below alpha
(the sign of the difference and ``higher_is_better`` pick which), else ``inconclusive``.
Data that cannot be tested (an empty variant, no variance, a negative count) is
``inconclusive`` with a message saying why, so the rollout pauses instead of guessing.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import ConfigDict, Field
from scipy import stats

from kfops.config.rollout import Spec

Decision = Literal["candidate-better", "candidate-worse", "inconclusive"]
CANDIDATE_BETTER: Decision = "candidate-better"
CANDIDATE_WORSE: Decision = "candidate-worse"
INCONCLUSIVE: Decision = "inconclusive"


class ComparisonResult(Spec):
    """What a test found; persisted in the rollout status (experiment.result)."""

    model_config = ConfigDict(
        **{**Spec.model_config, "extra": "ignore"}, ser_json_inf_nan="strings"
    )

    test: str
    statistic: float | None = None
    p_value: float | None = None
    alpha: float
    higher_is_better: bool = True
    variants: dict[str, dict[str, float]] = Field(
        default_factory=dict, description="Figures per variant (stable, candidate)."
    )
    winner: Literal["candidate", "stable"] | None = None
    decision: Decision = INCONCLUSIVE
    message: str = ""


def _verdict(
    result: ComparisonResult, difference: float, p_value: float, metric: str
) -> ComparisonResult:
    """Fill winner and decision from the sign of candidate - stable and the p-value."""
    result.p_value = p_value
    if math.isnan(p_value):
        result.message = f"{metric}: the test gave no p-value (no variance?)"
        return result
    if p_value >= result.alpha or difference == 0:
        result.message = (
            f"{metric}: no significant difference (p={p_value:.4g} >= alpha={result.alpha})"
        )
        return result
    candidate_wins = (difference > 0) == result.higher_is_better
    result.winner = "candidate" if candidate_wins else "stable"
    result.decision = CANDIDATE_BETTER if candidate_wins else CANDIDATE_WORSE
    result.message = (
        f"{metric}: {result.winner} is significantly better (p={p_value:.4g} < "
        f"alpha={result.alpha})"
    )
    return result


def _finite(*values: float) -> bool:
    return all(isinstance(v, int | float) and math.isfinite(v) for v in values)


EXTRAPOLATION_SLACK = 0.01
"""Share of the total by which successes may exceed it and still be read as all successes."""


def _counts(successes: float, total: float) -> tuple[float, float]:
    """Whole counts. Prometheus' ``increase()`` extrapolates to the window's edges, so two
    counters read over one window come back fractional and may disagree by a little: 314.393
    successes of 314.353 trials is every trial a success, not an impossible proportion."""
    if total < successes <= total * (1 + EXTRAPOLATION_SLACK):
        successes = total
    return float(round(successes)), float(round(total))


def compare_proportions(
    successes_a: float,
    total_a: float,
    successes_b: float,
    total_b: float,
    alpha: float = 0.05,
    higher_is_better: bool = True,
    metric: str = "proportion",
) -> ComparisonResult:
    """Two-proportion z-test; ``a`` is stable, ``b`` the candidate."""
    result = ComparisonResult(
        test="two-proportion-z", alpha=alpha, higher_is_better=higher_is_better
    )
    result.variants = {
        "stable": {"successes": successes_a, "total": total_a},
        "candidate": {"successes": successes_b, "total": total_b},
    }
    if not _finite(successes_a, total_a, successes_b, total_b):
        result.message = f"{metric}: a count is not a finite number"
        return result
    successes_a, total_a = _counts(successes_a, total_a)
    successes_b, total_b = _counts(successes_b, total_b)
    for variant, successes, total in (
        ("stable", successes_a, total_a),
        ("candidate", successes_b, total_b),
    ):
        if total <= 0:
            result.message = f"{metric}: {variant} has no trials yet (total {total:g})"
            return result
        if successes < 0 or successes > total:
            result.message = (
                f"{metric}: {variant} successes {successes:g} are not within 0..total {total:g}"
            )
            return result
        result.variants[variant]["rate"] = successes / total
    rate_a, rate_b = successes_a / total_a, successes_b / total_b
    pooled = (successes_a + successes_b) / (total_a + total_b)
    variance = pooled * (1 - pooled) * (1 / total_a + 1 / total_b)
    if variance <= 0:
        result.message = f"{metric}: both variants have rate {pooled:g}; nothing to compare"
        return result
    z = (rate_b - rate_a) / math.sqrt(variance)
    result.statistic = z
    p_value = float(2 * stats.norm.sf(abs(z)))
    return _verdict(result, rate_b - rate_a, p_value, metric)


def compare_means(
    mean_a: float,
    var_a: float,
    n_a: float,
    mean_b: float,
    var_b: float,
    n_b: float,
    alpha: float = 0.05,
    higher_is_better: bool = True,
    metric: str = "mean",
) -> ComparisonResult:
    """Welch's t-test from means, sample variances and counts; ``a`` stable, ``b`` candidate."""
    result = ComparisonResult(test="welch-t", alpha=alpha, higher_is_better=higher_is_better)
    result.variants = {
        "stable": {"mean": mean_a, "variance": var_a, "count": n_a},
        "candidate": {"mean": mean_b, "variance": var_b, "count": n_b},
    }
    if not _finite(mean_a, var_a, n_a, mean_b, var_b, n_b):
        result.message = f"{metric}: a figure is not a finite number"
        return result
    for variant, var, n in (("stable", var_a, n_a), ("candidate", var_b, n_b)):
        if n < 2:
            result.message = f"{metric}: {variant} has {n:g} observations; need at least 2"
            return result
        if var < 0:
            result.message = f"{metric}: {variant} variance {var:g} is negative"
            return result
    if var_a == 0 and var_b == 0:
        result.message = f"{metric}: both variants have zero variance; nothing to compare"
        return result
    test = stats.ttest_ind_from_stats(
        mean_b, math.sqrt(var_b), n_b, mean_a, math.sqrt(var_a), n_a, equal_var=False
    )
    result.statistic = float(test.statistic)
    return _verdict(result, mean_b - mean_a, float(test.pvalue), metric)
