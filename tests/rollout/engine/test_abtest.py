"""A/B statistics against hand computations."""

import math

import pytest
from scipy import stats

from kfops.rollout.engine.abtest import (
    CANDIDATE_BETTER,
    CANDIDATE_WORSE,
    INCONCLUSIVE,
    compare_means,
    compare_proportions,
)


def hand_z(x_a, n_a, x_b, n_b):
    p_a, p_b, pooled = x_a / n_a, x_b / n_b, (x_a + x_b) / (n_a + n_b)
    z = (p_b - p_a) / math.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    return z, math.erfc(abs(z) / math.sqrt(2))


def test_worked_example_from_the_docstring():
    result = compare_proportions(100, 1000, 130, 1000, alpha=0.05)
    assert result.statistic == pytest.approx(2.1027, abs=1e-4)
    assert result.p_value == pytest.approx(0.0355, abs=1e-4)
    assert result.winner == "candidate"
    assert result.decision == CANDIDATE_BETTER
    assert result.variants["stable"]["rate"] == pytest.approx(0.1)
    assert result.variants["candidate"]["rate"] == pytest.approx(0.13)


@pytest.mark.parametrize(
    ("x_a", "n_a", "x_b", "n_b"),
    [(100, 1000, 130, 1000), (50, 400, 30, 420), (5, 10, 6, 10), (900, 1000, 905, 1000)],
)
def test_z_and_p_match_a_hand_computation(x_a, n_a, x_b, n_b):
    z, p = hand_z(x_a, n_a, x_b, n_b)
    result = compare_proportions(x_a, n_a, x_b, n_b)
    assert result.test == "two-proportion-z"
    assert result.statistic == pytest.approx(z, rel=1e-12)
    assert result.p_value == pytest.approx(p, rel=1e-9)


@pytest.mark.parametrize(
    ("x_b", "higher_is_better", "winner", "decision"),
    [
        (130, True, "candidate", CANDIDATE_BETTER),
        (130, False, "stable", CANDIDATE_WORSE),
        (70, True, "stable", CANDIDATE_WORSE),
        (70, False, "candidate", CANDIDATE_BETTER),
        (105, True, None, INCONCLUSIVE),
    ],
)
def test_direction_decides_the_winner(x_b, higher_is_better, winner, decision):
    result = compare_proportions(100, 1000, x_b, 1000, higher_is_better=higher_is_better)
    assert (result.winner, result.decision) == (winner, decision)


def test_alpha_is_the_threshold():
    # p = 0.0355: significant at 0.05, not at 0.01
    assert compare_proportions(100, 1000, 130, 1000, alpha=0.05).decision == CANDIDATE_BETTER
    strict = compare_proportions(100, 1000, 130, 1000, alpha=0.01)
    assert strict.decision == INCONCLUSIVE
    assert "no significant difference" in strict.message


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((0, 0, 5, 10), "stable has no trials yet"),
        ((5, 10, 0, 0), "candidate has no trials yet"),
        ((11, 10, 5, 10), "stable successes 11 are not within 0..total 10"),
        ((5, 10, -1, 10), "candidate successes -1"),
        ((0, 10, 0, 10), "both variants have rate 0"),
        ((10, 10, 10, 10), "both variants have rate 1"),
        ((math.nan, 10, 1, 10), "not a finite number"),
    ],
)
def test_proportions_that_cannot_be_tested_are_inconclusive(args, message):
    result = compare_proportions(*args)
    assert result.decision == INCONCLUSIVE
    assert result.winner is None
    assert message in result.message


def test_welch_matches_the_formula():
    mean_a, var_a, n_a = 100.0, 400.0, 50
    mean_b, var_b, n_b = 92.0, 225.0, 60
    se = math.sqrt(var_a / n_a + var_b / n_b)
    t = (mean_b - mean_a) / se
    df = (var_a / n_a + var_b / n_b) ** 2 / (
        (var_a / n_a) ** 2 / (n_a - 1) + (var_b / n_b) ** 2 / (n_b - 1)
    )
    p = 2 * stats.t.sf(abs(t), df)
    result = compare_means(mean_a, var_a, n_a, mean_b, var_b, n_b, higher_is_better=False)
    assert result.test == "welch-t"
    assert result.statistic == pytest.approx(t, rel=1e-9)
    assert result.p_value == pytest.approx(p, rel=1e-9)
    assert p < 0.05
    # lower latency is better: the candidate wins
    assert (result.winner, result.decision) == ("candidate", CANDIDATE_BETTER)
    assert result.variants["candidate"] == {"mean": 92.0, "variance": 225.0, "count": 60}


def test_welch_worse_and_inconclusive():
    worse = compare_means(100, 400, 50, 92, 225, 60, higher_is_better=True)
    assert worse.decision == CANDIDATE_WORSE
    same = compare_means(100, 400, 50, 99, 400, 50)
    assert same.decision == INCONCLUSIVE


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((1, 1, 1, 2, 1, 10), "stable has 1 observations"),
        ((1, 1, 10, 2, 1, 0), "candidate has 0 observations"),
        ((1, 0, 10, 2, 0, 10), "both variants have zero variance"),
        ((1, -1, 10, 2, 1, 10), "variance -1 is negative"),
        ((1, math.inf, 10, 2, 1, 10), "not a finite number"),
    ],
)
def test_means_that_cannot_be_tested_are_inconclusive(args, message):
    result = compare_means(*args)
    assert result.decision == INCONCLUSIVE
    assert message in result.message


def test_result_survives_json():
    result = compare_proportions(100, 1000, 130, 1000)
    again = type(result).model_validate_json(result.model_dump_json(by_alias=True))
    assert again == result
    assert '"pValue"' in result.model_dump_json(by_alias=True)


def test_extrapolated_prometheus_counts_are_read_as_whole_counts() -> None:
    # increase() over one window: 314.393 successes of 314.353 trials means all succeeded.
    result = compare_proportions(314.393, 314.353, 0.0, 300.2)
    assert result.variants["stable"]["rate"] == 1.0
    assert result.variants["candidate"]["rate"] == 0.0
    assert result.decision == "candidate-worse" and result.p_value < 1e-6
