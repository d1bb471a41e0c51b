"""Argo success/failure conditions: the outcome table, the safe interpreter, its errors."""

import math

import pytest

from kfops.errors import ConfigurationError
from kfops.rollout.engine.conditions import (
    EvaluationError,
    check_condition,
    evaluate_condition,
    evaluate_measurement,
    explain,
)
from kfops.rollout.engine.status import AnalysisPhase

S, F, INC, E = (
    AnalysisPhase.SUCCESSFUL,
    AnalysisPhase.FAILED,
    AnalysisPhase.INCONCLUSIVE,
    AnalysisPhase.ERROR,
)


@pytest.mark.parametrize(
    ("result", "success", "failure", "phase"),
    [
        # neither set: always Successful
        (0.5, None, None, S),
        ([], None, None, S),
        # success only: holds -> Successful, else Failed
        (0.96, "result >= 0.95", None, S),
        (0.95, "result >= 0.95", None, S),
        (0.94, "result >= 0.95", None, F),
        # failure only: holds -> Failed, else Successful
        ([0.12], None, "result[0] > 0.05", F),
        ([0.05], None, "result[0] > 0.05", S),
        # both: failure wins, then success, else Inconclusive
        (0.99, "result > 0.9", "result > 0.5", F),
        (0.99, "result > 0.9", "result < 0.1", S),
        (0.5, "result > 0.9", "result < 0.1", INC),
        (0.05, "result > 0.9", "result < 0.1", F),
        # evaluation problems are Error
        ([], "result[0] < 0.05", None, E),
        ([], None, "result[0] > 0.05", E),
        ([0.1], "result[1] < 0.05", None, E),
        (float("nan"), "result < 0.05", None, E),
        (0.1, "result[0] < 0.05", None, E),
        ([0.1, 0.2], "result < 0.05", None, E),
        (0.0, "1 / result > 2", None, E),
        # an error in either condition is Error even if the other would decide
        ([], "len(result) == 0", "result[0] > 1", E),
    ],
)
def test_outcome_table(result, success, failure, phase):
    assert evaluate_measurement(result, success, failure, "m")[0] == phase


@pytest.mark.parametrize(
    ("expression", "result", "expected"),
    [
        ("result[0] >= 0.95", [0.97], True),
        ("result[-1] < 1", [5.0, 0.5], True),
        ("len(result) == 0 || result[0] < 0.1", [], True),
        ("len(result) == 0 or result[0] < 0.1", [0.2], False),
        ("result > 1 && result < 3", 2.0, True),
        ("!(result > 1)", 2.0, False),
        ("result != 2", 2.0, False),
        ("not result == 2", 3.0, True),
        ("0.1 < result <= 0.2", 0.2, True),
        ("0.1 < result <= 0.2", 0.25, False),
        ("result * 100 + 1 >= 51", 0.5, True),
        ("result % 2 == 1", 3.0, True),
        ("-result < 0", 1.0, True),
        ("2 ** 3 == 8", 0.0, True),
        ("isNaN(result)", float("nan"), True),
        ("isNaN(result) || result < 0.05", float("nan"), True),
        ("isInf(result[0])", [math.inf], True),
        ("all(x < 0.1 for x in result)", [0.01, 0.09], True),
        ("all(x < 0.1 for x in result)", [0.01, 0.2], False),
        ("any(x > 0.1 for x in result)", [0.01, 0.2], True),
        ("max(result) < 0.3 and min(result) > 0", [0.1, 0.2], True),
        ("sum(result) == 0.5", [0.25, 0.25], True),
        ("abs(result) < 1", -0.5, True),
        ("true", 0.0, True),
        ("false || result > 0", 1.0, True),
    ],
)
def test_expressions(expression, result, expected):
    assert evaluate_condition(expression, result) is expected


@pytest.mark.parametrize(
    "expression",
    [
        "__import__('os').system('true')",
        "result.__class__",
        "open('/etc/passwd')",
        "[x for x in result]",
        "lambda: 1",
        "result[0:2] == 1",
        "'a' == 'a'",
        "result[0] >",
        "result ==",
        "result + 1",  # a number, not true or false
        "foo > 1",
        "exit()",
        "len()",
    ],
)
def test_forbidden_or_broken_expressions_are_configuration_errors(expression):
    with pytest.raises(ConfigurationError, match=r"^metric 'error-rate' failureCondition"):
        evaluate_measurement(0.1, None, expression, "error-rate")
    with pytest.raises(ConfigurationError, match="^templates\\[x\\]: "):
        check_condition(expression, "templates[x]")


def test_huge_powers_are_errors_not_hangs():
    phase, message = evaluate_measurement(2.0, "result ** 10 ** 10 > 1", None)
    assert phase == E
    assert "out of range" in message


def test_error_messages_name_the_problem():
    assert (
        "out of range (result has 0 values)" in evaluate_measurement([], "result[0] < 1", None)[1]
    )
    assert "NaN; guard with isNaN()" in evaluate_measurement(math.nan, "result < 1", None)[1]
    with pytest.raises(EvaluationError, match="not a vector"):
        evaluate_condition("result[0] < 1", 0.5)


def test_explanations_show_the_measured_values():
    assert explain("result[0] > 0.05", [0.12]) == "0.12 > 0.05"
    assert explain("result >= 0.95", 0.9) == "0.9 >= 0.95"
    assert explain("isNaN(result) or result < 1", math.nan) == "isNaN(NaN) or NaN < 1"
    assert evaluate_measurement([0.12], None, "result[0] > 0.05")[1] == "0.12 > 0.05"
    assert evaluate_measurement(0.5, "result > 0.9", "result < 0.1")[1] == (
        "neither 0.5 > 0.9 nor 0.5 < 0.1"
    )
