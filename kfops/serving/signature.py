"""The model's input contract, read from its MLflow signature, and the checks against it.

Pure: no I/O, no HTTP. A request arrives as rows (objects by column name, or positional
lists) or as columns (name -> values); either way every value is checked against its
column's type before the model sees it, and the first problem is reported by row and
column: ``row 3, column 'age': expected an integer, got 'abc' (a string)``.

Columns the model reads (its ``feature_names_in_``) are required. Columns that are in
the signature but not read by the model (kfops signs the training frame, entity and
timestamp included) are optional: checked when sent, never passed on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np
import pandas as pd

from kfops.errors import ServingError
from kfops.serving.errors import InputError
from kfops.serving.values import Kind, clean, describe, problem, to_array


class NanPolicy(StrEnum):
    REJECT = "reject"  # a null (or NaN) is a 422 naming the row and column
    ALLOW = "allow"  # nulls go to the model, whose imputers handle them


MLFLOW_KINDS: dict[str, Kind] = {
    "long": Kind.INTEGER,
    "integer": Kind.INTEGER,
    "double": Kind.NUMBER,
    "float": Kind.NUMBER,
    "string": Kind.TEXT,
    "binary": Kind.TEXT,
    "boolean": Kind.BOOLEAN,
    "datetime": Kind.TIME,
}


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind
    required: bool = True


@dataclass(frozen=True)
class Features:
    """A checked request: one list per model column, each ``n_rows`` long."""

    columns: dict[str, list[Any]]
    n_rows: int


@dataclass(frozen=True)
class InputSchema:
    """Signature columns in signature order, the model's own order, and the NaN policy."""

    columns: tuple[Column, ...]
    model_order: tuple[str, ...]
    nan_policy: NanPolicy = NanPolicy.REJECT
    _by_name: dict[str, Column] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", {c.name: c for c in self.columns})

    @classmethod
    def from_mlflow(
        cls,
        inputs: list[dict[str, Any]] | None,
        model_columns: Sequence[str] | None,
        nan_policy: NanPolicy = NanPolicy.REJECT,
    ) -> InputSchema:
        """Build from ``signature.inputs.to_dict()`` and the estimator's ``feature_names_in_``."""
        if not inputs or any("name" not in spec or "type" not in spec for spec in inputs):
            raise ServingError(
                "the model has no column signature, so requests cannot be checked; log it "
                "with signature=infer_signature(features, predictions)"
            )
        read = list(model_columns) if model_columns is not None else None
        columns = []
        for spec in inputs:
            kind = MLFLOW_KINDS.get(str(spec["type"]))
            if kind is None:
                raise ServingError(
                    f"signature column '{spec['name']}' has type '{spec['type']}', which the "
                    f"server cannot check; use one of {', '.join(MLFLOW_KINDS)}"
                )
            required = read is None or spec["name"] in read
            columns.append(Column(str(spec["name"]), kind, required))
        names = {c.name for c in columns}
        unsigned = [name for name in read or [] if name not in names]
        if unsigned:
            raise ServingError(
                f"the model reads column '{unsigned[0]}' but its signature lacks it; "
                "log the model again with a signature of its training features"
            )
        order = tuple(read) if read is not None else tuple(c.name for c in columns)
        return cls(tuple(columns), order, nan_policy)

    def column(self, name: str) -> Column | None:
        return self._by_name.get(name)

    # -- rows (V1 instances) ------------------------------------------------------------

    def check_rows(self, rows: list[Any]) -> Features:
        """Rows are objects by column name, or lists in signature or model column order."""
        if not rows:
            raise InputError("no rows: send at least one instance")
        first = rows[0]
        if isinstance(first, dict):
            columns = self._from_objects(rows)
        elif isinstance(first, list):
            columns = self._from_lists(rows)
        else:
            raise InputError(
                f"row 0: expected an object of column values or a list, got {describe(first)}"
            )
        return self.check_columns(columns, len(rows), per_row=True)

    def _from_objects(self, rows: list[Any]) -> dict[str, list[Any]]:
        required, everything = set(self.model_order), self._by_name.keys()
        for number, row in enumerate(rows):
            if not isinstance(row, dict):
                raise InputError(
                    f"row {number}: expected an object like row 0, got {describe(row)}"
                )
            keys = row.keys()
            if keys in (required, everything):
                continue
            unknown = sorted(keys - everything)
            if unknown:
                raise InputError(
                    f"row {number}: unknown column '{unknown[0]}'; the model's columns are "
                    f"{', '.join(self.model_order)}"
                )
            missing = [name for name in self.model_order if name not in keys]
            if missing:
                raise InputError(
                    f"row {number}: missing column '{missing[0]}'; send every model column: "
                    f"{', '.join(self.model_order)}"
                )
        columns = {name: [row[name] for row in rows] for name in self.model_order}
        for col in self.columns:
            if not col.required:
                sent = [row[col.name] for row in rows if col.name in row]
                if sent:
                    columns[col.name] = sent
        return columns

    def _from_lists(self, rows: list[Any]) -> dict[str, list[Any]]:
        width = len(rows[0])
        if width == len(self.model_order):
            names: Sequence[str] = self.model_order
        elif width == len(self.columns):
            names = [c.name for c in self.columns]
        else:
            raise InputError(
                f"row 0: {width} values, expected {len(self.model_order)} (the model's columns "
                f"in order: {', '.join(self.model_order)}) or {len(self.columns)} (the signature's)"
            )
        for number, row in enumerate(rows):
            if not isinstance(row, list) or len(row) != width:
                raise InputError(
                    f"row {number}: expected a list of {width} values like row 0, got "
                    f"{describe(row) if not isinstance(row, list) else f'{len(row)} values'}"
                )
        return {name: [row[i] for row in rows] for i, name in enumerate(names)}

    # -- columns (V2 inputs) ------------------------------------------------------------

    def check_columns(
        self, columns: dict[str, list[Any]], n_rows: int | None = None, per_row: bool = False
    ) -> Features:
        """Check every column's values; pass on the model's columns only."""
        unknown = [name for name in columns if name not in self._by_name]
        if unknown:
            raise InputError(
                f"unknown column '{unknown[0]}'; the model's columns are {', '.join(self.model_order)}"
            )
        missing = [name for name in self.model_order if name not in columns]
        if missing:
            raise InputError(
                f"missing column '{missing[0]}'; send every model column: {', '.join(self.model_order)}"
            )
        rows = n_rows if n_rows is not None else len(columns[self.model_order[0]])
        if rows == 0:
            raise InputError("no rows: send at least one value per column")
        checked: dict[str, list[Any]] = {}
        for name, values in columns.items():
            col = self._by_name[name]
            if col.required and len(values) != rows:
                raise InputError(
                    f"column '{name}' has {len(values)} values, column '{self.model_order[0]}' "
                    f"has {rows}; send one value per row in every column"
                )
            values = self._check_values(col, values, per_row)
            if col.required:
                checked[name] = values
        return Features(checked, rows)

    def _check_values(self, col: Column, values: list[Any], per_row: bool) -> list[Any]:
        types = set(map(type, values))
        if clean(col.kind, types, values):
            return values
        allowed = self.nan_policy is NanPolicy.ALLOW or not col.required
        for number, value in enumerate(values):
            found = problem(col.kind, value, allowed)
            if found:
                where = f"row {number}, column '{col.name}'" if per_row else f"column '{col.name}'"
                where += "" if per_row else f", value {number}"
                raise InputError(f"{where}: {found}")
        if col.kind is Kind.INTEGER and float in types:
            return [int(v) if type(v) is float and v == v else v for v in values]
        return values

    # -- to the model ---------------------------------------------------------------------

    def arrays(self, parts: Sequence[Features]) -> dict[str, np.ndarray]:
        """A batch's columns in the model's order, one typed array each.

        Integers with a missing value become floats (NaN), as pandas would read them.
        """
        data: dict[str, np.ndarray] = {}
        for name in self.model_order:
            values = (
                parts[0].columns[name]
                if len(parts) == 1
                else [v for part in parts for v in part.columns[name]]
            )
            data[name] = to_array(self._by_name[name].kind, values)
        return data

    def frame(self, parts: Sequence[Features]) -> pd.DataFrame:
        """The batch as the DataFrame the model takes."""
        return pd.DataFrame(self.arrays(parts), copy=False)


def entity_rows(rows: Any, entity_keys: frozenset[str]) -> list[dict[str, Any]] | None:
    """The rows when every one names entity keys only (``{"customer_id": "C1"}``), else None."""
    if not entity_keys or not isinstance(rows, list) or not rows:
        return None
    for row in rows:
        if not isinstance(row, dict) or not row or not row.keys() <= entity_keys:
            return None
    return rows
