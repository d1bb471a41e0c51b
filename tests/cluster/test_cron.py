"""Table tests for KFP cron validation: each field at low - 1, low, high and high + 1."""

from __future__ import annotations

import pytest

from kfops.cluster.cron import parse_cron
from kfops.errors import ConfigurationError

VALID = [
    # (expression, normalised)
    ("0 0 3 * * *", "0 0 3 * * *"),
    ("  0   0 3 * *  *  ", "0 0 3 * * *"),
    ("0\t0 3 * * *", "0 0 3 * * *"),
    # boundaries of every field
    ("59 59 23 31 12 6", "59 59 23 31 12 6"),
    ("0 0 0 1 1 0", "0 0 0 1 1 0"),
    # steps, ranges, lists
    ("*/15 * * * * *", "*/15 * * * * *"),
    ("5/15 * * * * *", "5/15 * * * * *"),
    ("0 0-30/10 * * * *", "0 0-30/10 * * * *"),
    ("0 0 9-17 * * 1-5", "0 0 9-17 * * 1-5"),
    ("0 0,15,30,45 * * * *", "0 0,15,30,45 * * * *"),
    ("0 0 */2 1,15 * *", "0 0 */2 1,15 * *"),
    ("0 0 0 1 */3 *", "0 0 0 1 */3 *"),
    ("0 0 0 * * 0/2", "0 0 0 * * 0/2"),
    ("0 0 0 * * 6/1", "0 0 0 * * 6/1"),
    ("0 0 0 * * */100", "0 0 0 * * */100"),
    # a range of one value
    ("0 0 5-5 * * *", "0 0 5-5 * * *"),
    # '?' as robfig/cron accepts it (the KFP client's own example uses it for day-of-month)
    ("0 0 9 ? * 2-6", "0 0 9 ? * 2-6"),
    ("0 0 9 * * ?", "0 0 9 * * ?"),
    ("0 0 9 ?/2 * *", "0 0 9 ?/2 * *"),
    # names, any case, normalised to upper case
    ("0 0 3 * * MON-FRI", "0 0 3 * * MON-FRI"),
    ("0 0 3 * * mon-fri", "0 0 3 * * MON-FRI"),
    ("0 0 3 * jan,Jul SUN", "0 0 3 * JAN,JUL SUN"),
    ("0 0 3 * JAN-DEC SUN-SAT", "0 0 3 * JAN-DEC SUN-SAT"),
    ("0 0 3 * 1-DEC 0-sat", "0 0 3 * 1-DEC 0-SAT"),
    # descriptors
    ("@daily", "@daily"),
    ("@Hourly", "@hourly"),
    ("@midnight", "@midnight"),
    ("@yearly", "@yearly"),
    ("@annually", "@annually"),
    ("@monthly", "@monthly"),
    ("@weekly", "@weekly"),
]


@pytest.mark.parametrize(("expr", "expected"), VALID)
def test_valid_expressions_are_normalised(expr: str, expected: str) -> None:
    assert parse_cron(expr) == expected


INVALID = [
    # (expression, regex the message must match)
    # field counts
    (
        "0 3 * * *",
        r"^cron '0 3 \* \* \*' has 5 fields; KFP cron has 6 \(seconds first\), "
        r"e\.g\. '0 0 3 \* \* \*'$",
    ),
    ("*/5 * * * *", r"has 5 fields.*e\.g\. '0 \*/5 \* \* \* \*'"),
    ("0 0 3 * *", r"has 5 fields"),
    ("0 0 3 * * * 2030", r"has 7 fields; KFP cron has 6: seconds minutes hours"),
    ("0 3 * *", r"has 4 fields"),
    ("*", r"has 1 fields"),
    ("", r"^cron '': empty"),
    ("   ", r"^cron '': empty"),
    # seconds 0-59
    ("60 0 3 * * *", r"seconds value 60 is out of range; seconds takes 0-59"),
    ("0-60 0 3 * * *", r"seconds value 60 is out of range"),
    # minutes 0-59
    ("0 60 3 * * *", r"minutes value 60 is out of range; minutes takes 0-59"),
    # hours 0-23
    ("0 0 24 * * *", r"hours value 24 is out of range; hours takes 0-23"),
    # day-of-month 1-31
    ("0 0 3 0 * *", r"day-of-month value 0 is out of range; day-of-month takes 1-31"),
    ("0 0 3 32 * *", r"day-of-month value 32 is out of range"),
    ("0 0 3 1-32 * *", r"day-of-month value 32 is out of range"),
    # month 1-12
    ("0 0 3 * 0 *", r"month value 0 is out of range; month takes 1-12 \(or JAN-DEC\)"),
    ("0 0 3 * 13 *", r"month value 13 is out of range"),
    # day-of-week 0-6 (robfig/cron v1 has no 7 for Sunday)
    ("0 0 3 * * 7", r"day-of-week value 7 is out of range; day-of-week takes 0-6 \(or SUN-SAT\)"),
    ("0 0 3 * * 5-7", r"day-of-week value 7 is out of range"),
    # names only where they exist, and only real ones
    ("0 0 3 MON * *", r"day-of-month value 'MON' is not a number; day-of-month takes 1-31"),
    ("0 0 3 * * MONDAY", r"day-of-week value 'MONDAY' is not a number or a name"),
    # syntax
    ("0 0 3 * * L", r"day-of-week value 'L' is not a number or a name"),
    ("0 0 3 L * *", r"day-of-month value 'L' is not a number"),
    ("0 0 3 * * 1#2", r"day-of-week value '1#2' is not a number"),
    ("0 0 -1 * * *", r"hours value '' is not a number"),
    ("0 0 +1 * * *", r"hours value '\+1' is not a number"),
    ("0 0 1- * * *", r"hours value '' is not a number"),
    ("0 0 1-2-3 * * *", r"hours item '1-2-3' is not valid"),
    ("0 0 1,,2 * * *", r"hours item '' is not valid"),
    ("0 0 1, * * *", r"hours item '' is not valid"),
    ("0 0 */2/3 * * *", r"hours item '\*/2/3' is not valid"),
    ("0 0 /2 * * *", r"hours item '/2' is not valid"),
    # steps must be >= 1
    ("*/0 * * * * *", r"seconds step '0' in '\*/0' must be a whole number >= 1"),
    ("0 0 3 * * */x", r"day-of-week step 'x'"),
    ("0 0 3 * * 1/", r"day-of-week step ''"),
    # reversed ranges
    ("0 0 5-4 * * *", r"hours range '5-4' starts after it ends"),
    ("0 0 3 * * FRI-MON", r"day-of-week range 'FRI-MON' starts after it ends"),
    # descriptors
    ("@every 1h", r"unknown descriptor; use one of @annually"),
    ("@reboot", r"unknown descriptor"),
]


@pytest.mark.parametrize(("expr", "message"), INVALID)
def test_invalid_expressions_name_the_problem(expr: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message) as info:
        parse_cron(expr)
    assert "\n" not in str(info.value)


def test_five_field_message_is_exact() -> None:
    with pytest.raises(ConfigurationError) as info:
        parse_cron("0 3 * * *")
    assert str(info.value) == (
        "cron '0 3 * * *' has 5 fields; KFP cron has 6 (seconds first), e.g. '0 0 3 * * *'"
    )


def test_out_of_range_message_names_the_expression_and_field() -> None:
    with pytest.raises(ConfigurationError) as info:
        parse_cron("0 0 24 * * *")
    assert str(info.value) == (
        "cron '0 0 24 * * *': hours value 24 is out of range; hours takes 0-23"
    )
