"""Single values against a column's kind: the fast whole-column test, the first problem
found, and the typed array a column becomes. Pure.

JSON brings ints, floats, strings, booleans and null; a column accepts only its own kinds
(a boolean is not an integer, ``"74"`` is not a number), and ``null`` or NaN is a
missing value, which the caller allows or rejects.
"""

from __future__ import annotations

import math
from enum import StrEnum
from typing import Any

import numpy as np


class Kind(StrEnum):
    INTEGER = "integer"
    NUMBER = "number"
    TEXT = "text"
    BOOLEAN = "boolean"
    TIME = "time"


ACCEPTS: dict[Kind, frozenset[type]] = {
    Kind.INTEGER: frozenset({int}),
    Kind.NUMBER: frozenset({int, float}),
    Kind.TEXT: frozenset({str}),
    Kind.BOOLEAN: frozenset({bool}),
    Kind.TIME: frozenset({str}),
}
EXPECTED = {
    Kind.INTEGER: "an integer",
    Kind.NUMBER: "a number",
    Kind.TEXT: "a string",
    Kind.BOOLEAN: "true or false",
    Kind.TIME: "an ISO-8601 time string",
}
INT64 = 2**63
FLOAT_MAX = 1.7976931348623157e308


def describe(value: Any) -> str:
    """``'abc' (a string)``: the value and its JSON type, for messages."""
    kinds = {bool: "a boolean", int: "an integer", float: "a number", str: "a string"}
    kind = kinds.get(type(value)) or (
        "an object" if isinstance(value, dict) else "a list" if isinstance(value, list) else "null"
    )
    shown = repr(value) if not isinstance(value, dict | list) else ""
    return f"{shown} ({kind})" if shown and value is not None else kind


def clean(kind: Kind, types: set[type], values: list[Any]) -> bool:
    """The fast path: True when a whole column needs no value-by-value look."""
    if not types <= ACCEPTS[kind]:
        return False
    if kind is Kind.INTEGER:
        return min(values) >= -INT64 and max(values) < INT64
    if kind is Kind.NUMBER:
        try:
            return bool(np.isfinite(np.asarray(values, dtype=np.float64)).all())
        except OverflowError:
            return False
    return True


def problem(kind: Kind, value: Any, missing_allowed: bool) -> str | None:
    """What is wrong with one value, or None. ``None`` and NaN are missing values."""
    kind_of = type(value)
    if value is None or (kind_of is float and value != value):
        if missing_allowed:
            return None
        return (
            f"missing value ({'NaN' if value is not None else 'null'}); this server rejects "
            f"missing values (serving.nan_policy: reject), send {EXPECTED[kind]}"
        )
    if kind_of not in ACCEPTS[kind] and not (kind is Kind.INTEGER and kind_of is float):
        return f"expected {EXPECTED[kind]}, got {describe(value)}"
    if kind is Kind.INTEGER:
        if kind_of is float and not value.is_integer():
            return f"expected an integer, got {describe(value)}"
        if not -INT64 <= value < INT64:
            return f"{value!r} is out of the 64-bit integer range"
    if kind is Kind.NUMBER:
        if kind_of is float and not math.isfinite(value):
            return f"expected a finite number, got {value!r}"
        if kind_of is int and abs(value) > FLOAT_MAX:
            return f"{value!r} is out of the floating-point range"
    return None


def to_array(kind: Kind, values: list[Any]) -> np.ndarray:
    if kind is Kind.INTEGER:
        try:
            return np.asarray(values, dtype=np.int64)
        except (TypeError, ValueError):  # a missing value: None or NaN
            return np.asarray(values, dtype=np.float64)
    if kind is Kind.NUMBER:
        return np.asarray(values, dtype=np.float64)
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out
