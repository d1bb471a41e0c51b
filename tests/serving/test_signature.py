"""Input checks against the model's signature (kfops.serving.signature): pure, table-driven."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from kfops.errors import ServingError
from kfops.serving.errors import InputError
from kfops.serving.signature import InputSchema, Kind, NanPolicy, entity_rows

SIGNATURE = [
    {"type": "string", "name": "customer_id", "required": True},
    {"type": "long", "name": "tenure", "required": True},
    {"type": "double", "name": "charges", "required": True},
    {"type": "string", "name": "contract", "required": True},
    {"type": "boolean", "name": "paperless", "required": True},
]
MODEL_COLUMNS = ["tenure", "charges", "contract", "paperless"]
GOOD = {"tenure": 6, "charges": 74.5, "contract": "one-year", "paperless": True}


def schema(policy: NanPolicy = NanPolicy.REJECT) -> InputSchema:
    return InputSchema.from_mlflow(SIGNATURE, MODEL_COLUMNS, policy)


def test_signature_columns_the_model_does_not_read_are_optional() -> None:
    s = schema()
    assert s.model_order == tuple(MODEL_COLUMNS)
    assert [c.name for c in s.columns if not c.required] == ["customer_id"]
    assert s.column("tenure").kind is Kind.INTEGER


@pytest.mark.parametrize(
    ("inputs", "columns", "message"),
    [
        (None, MODEL_COLUMNS, "no column signature"),
        ([{"type": "tensor", "tensor-spec": {}}], None, "no column signature"),
        ([{"name": "x", "type": "decimal"}], None, "type 'decimal'"),
        (SIGNATURE, [*MODEL_COLUMNS, "age"], "reads column 'age' but its signature lacks it"),
    ],
)
def test_unusable_signatures_are_refused_at_load(inputs, columns, message) -> None:
    with pytest.raises(ServingError, match=message):
        InputSchema.from_mlflow(inputs, columns)


def test_object_rows_become_model_columns_in_order() -> None:
    rows = [GOOD, {**GOOD, "customer_id": "C1", "tenure": 7.0}]
    features = schema().check_rows(rows)
    assert features.n_rows == 2
    assert list(features.columns) == MODEL_COLUMNS
    assert features.columns["tenure"] == [6, 7]  # an integral float is an integer
    assert isinstance(features.columns["tenure"][1], int)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (
            {**GOOD, "tenure": "six"},
            "row 1, column 'tenure': expected an integer, got 'six' (a string)",
        ),
        ({**GOOD, "tenure": 6.5}, "row 1, column 'tenure': expected an integer, got 6.5"),
        ({**GOOD, "tenure": True}, "column 'tenure': expected an integer, got True (a boolean)"),
        ({**GOOD, "tenure": 2**63}, "out of the 64-bit integer range"),
        ({**GOOD, "charges": "74"}, "column 'charges': expected a number, got '74' (a string)"),
        ({**GOOD, "charges": [1]}, "column 'charges': expected a number, got a list"),
        ({**GOOD, "charges": math.inf}, "expected a finite number, got inf"),
        ({**GOOD, "charges": 10**400}, "out of the floating-point range"),
        ({**GOOD, "contract": 2}, "column 'contract': expected a string, got 2 (an integer)"),
        ({**GOOD, "paperless": "yes"}, "column 'paperless': expected true or false"),
        ({**GOOD, "charges": None}, "column 'charges': missing value (null); this server rejects"),
        ({**GOOD, "charges": math.nan}, "missing value (NaN)"),
        ({**GOOD, "customer_id": 5}, "column 'customer_id': expected a string"),
        ({**GOOD, "extra": 1}, "row 1: unknown column 'extra'"),
        ({k: v for k, v in GOOD.items() if k != "charges"}, "row 1: missing column 'charges'"),
        ("a string", "row 1: expected an object like row 0, got 'a string'"),
    ],
)
def test_each_violation_names_its_row_and_column(row, message) -> None:
    with pytest.raises(InputError, match=re.escape(message)) as caught:
        schema().check_rows([GOOD, row])
    assert caught.value.http_status == 422


def test_nan_policy_allow_lets_missing_values_through_as_nan() -> None:
    s = schema(NanPolicy.ALLOW)
    features = s.check_rows([{**GOOD, "tenure": None, "contract": None}])
    frame = s.frame([features])
    assert math.isnan(frame["tenure"][0]) and frame["contract"][0] is None
    assert frame["tenure"].dtype == np.float64  # an integer column with a hole is float


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([], "no rows"),
        ([[6, 74.5, "one-year"]], r"row 0: 3 values, expected 4 \(the model's columns"),
        (
            [[6, 74.5, "one-year", True], [6, 74.5]],
            "row 1: expected a list of 4 values like row 0, got 2 values",
        ),
        ([5], "row 0: expected an object of column values or a list, got 5"),
    ],
)
def test_shapes(rows, message) -> None:
    with pytest.raises(InputError, match=message):
        schema().check_rows(rows)


def test_positional_rows_in_model_or_signature_order() -> None:
    s = schema()
    short = s.check_rows([[6, 74.5, "one-year", True]])
    full = s.check_rows([["C1", 6, 74.5, "one-year", True]])
    assert short.columns == full.columns == {k: [v] for k, v in GOOD.items()}


def test_columns_form_checks_names_lengths_and_values() -> None:
    s = schema()
    good = {k: [v, v] for k, v in GOOD.items()}
    assert s.check_columns(good).n_rows == 2
    with pytest.raises(InputError, match="unknown column 'x'"):
        s.check_columns({**good, "x": [1, 2]})
    with pytest.raises(InputError, match="missing column 'paperless'"):
        s.check_columns({k: v for k, v in good.items() if k != "paperless"})
    with pytest.raises(InputError, match="column 'charges' has 1 values, column 'tenure' has 2"):
        s.check_columns({**good, "charges": [1.0]})
    with pytest.raises(InputError, match="column 'tenure', value 1: expected an integer"):
        s.check_columns({**good, "tenure": [1, "x"]})


def test_frame_concatenates_a_batch_with_typed_columns() -> None:
    s = schema()
    parts = [s.check_rows([GOOD]), s.check_rows([{**GOOD, "tenure": 9}, GOOD])]
    frame = s.frame(parts)
    assert list(frame.columns) == MODEL_COLUMNS
    assert frame["tenure"].tolist() == [6, 9, 6]
    assert frame["tenure"].dtype == np.int64 and frame["charges"].dtype == np.float64
    assert frame["contract"].dtype == object


@pytest.mark.parametrize(
    ("rows", "entities"),
    [
        ([{"customer_id": "C1"}, {"customer_id": "C2"}], True),
        ([{"customer_id": "C1"}, GOOD], False),
        ([{}], False),
        ([[1, 2]], False),
        ([], False),
    ],
)
def test_entity_rows_name_entity_keys_only(rows, entities) -> None:
    found = entity_rows(rows, frozenset({"customer_id"}))
    assert (found is not None) is entities
    assert entity_rows(rows, frozenset()) is None
