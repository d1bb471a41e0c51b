"""TFDV anomalies JSON -> findings -> one error line. Pure and fast."""

from __future__ import annotations

from typing import Any

import pytest

from kfops.validation.anomalies import (
    Anomaly,
    AnomalyKind,
    describe,
    format_failure,
    parse_anomalies,
    row_count_anomalies,
)

K = AnomalyKind


def info(column: str, *reasons: tuple[str, str, str]) -> dict[str, Any]:
    """One ``anomalyInfo`` entry as MessageToDict writes it."""
    return {
        "description": " ".join(r[2] for r in reasons),
        "severity": "ERROR",
        "shortDescription": reasons[0][1] if len(reasons) == 1 else "Multiple errors",
        "reason": [{"type": t, "shortDescription": s, "description": d} for t, s, d in reasons],
        "path": {"step": column.split(".")},
    }


MISSING = ("SCHEMA_MISSING_COLUMN", "Column dropped", "Column is completely missing")
NEW = ("SCHEMA_NEW_COLUMN", "New column", "New column (column in data but not in schema)")
LIFETIME = (
    "ENUM_TYPE_UNEXPECTED_STRING_VALUES",
    "Unexpected string values",
    "Examples contain values missing from the schema: lifetime (<1%). ",
)
TWO_VALUES = (
    "ENUM_TYPE_UNEXPECTED_STRING_VALUES",
    "Unexpected string values",
    "Examples contain values missing from the schema: lifetime (~13%), weekly (<1%). ",
)
SEVEN_VALUES = (
    "ENUM_TYPE_UNEXPECTED_STRING_VALUES",
    "Unexpected string values",
    "Examples contain values missing from the schema: "
    + ", ".join(f"v{i} (<1%)" for i in range(7))
    + ". ",
)
WRONG_TYPE = (
    "UNEXPECTED_DATA_TYPE",
    "Unexpected data type",
    "Expected data of type: INT but got STRING",
)
NOT_INT = (
    "INT_TYPE_NOT_INT_STRING",
    "Invalid values",
    'String values that were not ints were found, such as "many".',
)
LOW_PRESENCE = (
    "FEATURE_TYPE_LOW_FRACTION_PRESENT",
    "Column dropped",
    "The feature was present in fewer examples than expected: minimum fraction = 1.000000, "
    "actual = 0.970000",
)
LINF = (
    "COMPARATOR_L_INFTY_HIGH",
    "High Linfty distance between current and previous",
    "The Linfty distance between current and previous is 0.694 (up to six significant "
    "digits), above the threshold 0.1. The feature value with maximum difference is: lifetime",
)
JSD = (
    "COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH",
    "High approximate Jensen-Shannon divergence between current and previous",
    "The approximate Jensen-Shannon divergence between current and previous is 0.534066 "
    "(up to six significant digits), above the threshold 0.1.",
)
SMALL_INT = ("INT_TYPE_SMALL_INT", "Out-of-range values", "Unexpectedly small value: -3.")
UNKNOWN = ("SOME_FUTURE_TYPE", "Something new", "A new kind of\nproblem.")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param({}, [], id="empty"),
        pytest.param({"anomalyNameFormat": "SERIALIZED_PATH"}, [], id="no-anomalies"),
        pytest.param(
            {"anomalyInfo": {"age": info("age", MISSING)}},
            [Anomaly("age", K.MISSING_COLUMN, "missing", "test")],
            id="missing-column",
        ),
        pytest.param(
            {"anomalyInfo": {"extra": info("extra", NEW)}},
            [Anomaly("extra", K.NEW_COLUMN, "not in the schema", "test")],
            id="new-column",
        ),
        pytest.param(
            {"anomalyInfo": {"contract": info("contract", LIFETIME)}, "baseline": {"feature": []}},
            [
                Anomaly(
                    "contract", K.UNEXPECTED_VALUES, "unexpected string values ('lifetime')", "test"
                )
            ],
            id="new-category-baseline-ignored",
        ),
        pytest.param(
            {"anomalyInfo": {"contract": info("contract", TWO_VALUES)}},
            [
                Anomaly(
                    "contract",
                    K.UNEXPECTED_VALUES,
                    "unexpected string values ('lifetime', 'weekly')",
                    "test",
                )
            ],
            id="two-new-categories",
        ),
        pytest.param(
            {"anomalyInfo": {"c": info("c", SEVEN_VALUES)}},
            [
                Anomaly(
                    "c",
                    K.UNEXPECTED_VALUES,
                    "unexpected string values ('v0', 'v1', 'v2', 'v3', 'v4' and 2 more)",
                    "test",
                )
            ],
            id="many-new-categories",
        ),
        pytest.param(
            {"anomalyInfo": {"support_calls": info("support_calls", WRONG_TYPE, NOT_INT)}},
            [
                Anomaly("support_calls", K.WRONG_TYPE, "expected INT values, got STRING", "test"),
                Anomaly(
                    "support_calls",
                    K.WRONG_TYPE,
                    "strings that are not integers (e.g. 'many')",
                    "test",
                ),
            ],
            id="string-in-int-column",
        ),
        pytest.param(
            {"anomalyInfo": {"total_charges": info("total_charges", LOW_PRESENCE)}},
            [
                Anomaly(
                    "total_charges",
                    K.MISSING_VALUES,
                    "present in 97% of rows, the schema requires 100%",
                    "test",
                )
            ],
            id="too-many-missing",
        ),
        pytest.param(
            {"anomalyInfo": {"contract": info("contract", LINF), "age": info("age", JSD)}},
            [
                Anomaly(
                    "contract",
                    K.DRIFT,
                    "drift from train: L-infinity distance 0.694 above threshold 0.1",
                    "test",
                ),
                Anomaly(
                    "age",
                    K.DRIFT,
                    "drift from train: Jensen-Shannon divergence 0.534066 above threshold 0.1",
                    "test",
                ),
            ],
            id="drift",
        ),
        pytest.param(
            {"anomalyInfo": {"age": info("age", SMALL_INT)}},
            [
                Anomaly(
                    "age",
                    K.OUT_OF_RANGE,
                    "out-of-range values (Unexpectedly small value: -3)",
                    "test",
                )
            ],
            id="out-of-range",
        ),
        pytest.param(
            {"anomalyInfo": {"x": info("x", UNKNOWN)}},
            [Anomaly("x", K.OTHER, "something new (A new kind of problem)", "test")],
            id="unknown-type-one-line",
        ),
        pytest.param(
            {"anomalyInfo": {"a.b": info("a.b", MISSING)}},
            [Anomaly("a.b", K.MISSING_COLUMN, "missing", "test")],
            id="nested-path",
        ),
        pytest.param(
            {
                "anomaly_info": {
                    "age": {
                        "reason": [
                            {
                                "type": "SCHEMA_MISSING_COLUMN",
                                "short_description": "Column dropped",
                                "description": "Column is completely missing",
                            }
                        ],
                        "path": {"step": ["age"]},
                    }
                }
            },
            [Anomaly("age", K.MISSING_COLUMN, "missing", "test")],
            id="proto-field-names",
        ),
        pytest.param(
            {
                "anomalyInfo": {
                    "region": {
                        "shortDescription": "Unexpected string values",
                        "description": LIFETIME[2],
                    }
                }
            },
            [
                Anomaly(
                    "region",
                    K.OTHER,
                    "unexpected string values (Examples contain values missing from the "
                    "schema: lifetime (<1%))",
                    "test",
                )
            ],
            id="no-reasons-no-path",
        ),
        pytest.param(
            {
                "datasetAnomalyInfo": {
                    "reason": [
                        {
                            "type": "DATASET_LOW_NUM_EXAMPLES",
                            "shortDescription": "Low num examples in dataset",
                            "description": "The dataset has 3 examples, fewer than 10.",
                        }
                    ]
                }
            },
            [
                Anomaly(
                    None,
                    K.TOO_FEW_ROWS,
                    "low num examples in dataset (The dataset has 3 examples, fewer than 10)",
                    "test",
                )
            ],
            id="dataset-level",
        ),
    ],
)
def test_parse_anomalies(raw: dict[str, Any], expected: list[Anomaly]) -> None:
    assert parse_anomalies(raw, "test") == expected


@pytest.mark.parametrize(
    ("rows", "min_rows", "expected"),
    [
        (
            {"train": 15, "test": 4},
            20,
            ["only 19 rows in all splits, fewer than validation.min_rows (20)"],
        ),
        ({"train": 16, "test": 4}, 20, []),
        ({"train": 17, "test": 4}, 20, []),
        ({"train": 1, "test": 0}, 1, ["test split has no rows"]),
        (
            {"train": 0, "test": 0},
            1,
            [
                "train split has no rows",
                "test split has no rows",
                "only 0 rows in all splits, fewer than validation.min_rows (1)",
            ],
        ),
        ({"train": 1, "test": 1}, 1, []),
    ],
)
def test_row_count_anomalies(rows: dict[str, int], min_rows: int, expected: list[str]) -> None:
    found = row_count_anomalies(rows, min_rows)
    assert [a.description for a in found] == expected
    assert all(a.kind is K.TOO_FEW_ROWS and a.column is None for a in found)


CONTRACT = Anomaly("contract", K.UNEXPECTED_VALUES, "unexpected string values ('lifetime')", "test")
AGE = Anomaly("age", K.MISSING_COLUMN, "missing", "test")
CALLS = Anomaly("support_calls", K.WRONG_TYPE, "expected INT values, got STRING", "test")


def test_format_failure_names_each_column_and_the_fix() -> None:
    message = format_failure("churn", [CONTRACT, AGE, CALLS], "/repo/schema.pbtxt")
    assert message == (
        "validation failed for churn (test split): column 'contract': unexpected string "
        "values ('lifetime'); column 'age' missing; column 'support_calls': expected INT "
        "values, got STRING — fix the data or update the schema at /repo/schema.pbtxt"
    )


def test_format_failure_groups_reasons_of_one_column() -> None:
    other = Anomaly("support_calls", K.WRONG_TYPE, "strings that are not integers", "test")
    message = format_failure("churn", [CALLS, other], "s.pbtxt")
    assert (
        "column 'support_calls': expected INT values, got STRING, strings that are not" in message
    )
    assert message.count("support_calls") == 1


def test_format_failure_same_problem_in_both_splits_is_listed_once() -> None:
    train = [Anomaly(a.column, a.kind, a.description, "train") for a in (CONTRACT, AGE)]
    message = format_failure("churn", [*train, CONTRACT, AGE], "s.pbtxt")
    assert message.startswith("validation failed for churn (train and test splits): ")
    assert message.count("'lifetime'") == 1
    assert "only" not in message


def test_format_failure_marks_a_problem_seen_in_one_split_only() -> None:
    train_age = Anomaly("age", K.MISSING_COLUMN, "missing", "train")
    message = format_failure("churn", [train_age, AGE, CONTRACT], "s.pbtxt")
    assert "column 'age' missing;" in message
    assert "unexpected string values ('lifetime') (test only)" in message


@pytest.mark.parametrize(
    ("anomalies", "fix"),
    [
        (
            [
                Anomaly(
                    None,
                    K.TOO_FEW_ROWS,
                    "only 5 rows in all splits, fewer than validation.min_rows (20)",
                )
            ],
            "— add rows or lower validation.min_rows",
        ),
        (
            [Anomaly("age", K.DRIFT, "drift from train: Jensen-Shannon divergence 0.5", "test")],
            "— check how the data was split or raise validation.drift_threshold",
        ),
        (
            [AGE, Anomaly(None, K.TOO_FEW_ROWS, "only 5 rows")],
            "— fix the data or update the schema at s.pbtxt; add rows or lower validation.min_rows",
        ),
    ],
)
def test_format_failure_fix_matches_the_problem(anomalies: list[Anomaly], fix: str) -> None:
    assert format_failure("churn", anomalies, "s.pbtxt").endswith(fix)


def test_format_failure_for_an_unsaved_inferred_schema_points_at_its_copy() -> None:
    missing = Anomaly("total_charges", K.MISSING_VALUES, "present in 97% of rows", "train")
    message = format_failure("churn", [missing], "/out/schema.pbtxt", schema_inferred=True)
    assert message.endswith("(the inferred schema was not saved; its copy is at /out/schema.pbtxt)")


def test_format_failure_is_one_line() -> None:
    odd = Anomaly("x", K.OTHER, "a\nmulti-line\n  description", "train")
    assert "\n" not in format_failure("p", [odd], "s")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("SOME_TYPE", "", ""), "some type"),
        (("", "", ""), "unknown problem"),
        (("SOME_TYPE", "Only the long text.", ""), "only the long text."),
        (("SOME_TYPE", "", "Short"), "short"),
    ],
)
def test_describe_falls_back_to_what_there_is(args: tuple[str, str, str], expected: str) -> None:
    assert describe(*args) == expected


def test_anomaly_to_dict_is_plain_json() -> None:
    assert CONTRACT.to_dict() == {
        "column": "contract",
        "kind": "unexpected_values",
        "description": "unexpected string values ('lifetime')",
        "split": "test",
    }
