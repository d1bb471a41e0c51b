"""``model.preprocessing``: the user's scikit-learn transformers, fitted inside the model.

Entries without ``columns`` run first, in order, on every feature column (a DataFrame
in, a DataFrame out: they may add, change or drop columns); kfops' impute and one-hot
then encode what they return. Entries with ``columns`` take those columns instead of
kfops' encoding, side by side in the same ColumnTransformer, and must return numbers.

Each transformer is checked on the training rows before the model is fitted, so a bad
entry fails as one line naming ``model.preprocessing[i]`` rather than deep inside fit.
"""

from __future__ import annotations

import contextlib
import inspect
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from pandas.api import types as ptypes
from sklearn.base import BaseEstimator, TransformerMixin, clone

from kfops.config import PreprocessingStep
from kfops.errors import ConfigurationError, TrainingError, one_line
from kfops.training.user_code import carry_by_value, import_object

CARRIED = "cloudpickled"


@dataclass(frozen=True)
class ColumnKind:
    """Column selector for a ColumnTransformer: the numeric (or the other) columns of the
    frame it is given, minus those a user transformer took.

    Chosen when the model is fitted, not when it is built, because a whole-frame
    transformer before it may add columns. Module-level and frozen so the model pickles.
    """

    numeric: bool
    taken: tuple[str, ...] = ()

    def __call__(self, frame: pd.DataFrame) -> list[str]:
        chosen = []
        for name, dtype in frame.dtypes.items():
            if name in self.taken or ptypes.is_datetime64_any_dtype(dtype):
                continue
            is_number = ptypes.is_numeric_dtype(dtype) and not ptypes.is_bool_dtype(dtype)
            if is_number == self.numeric:
                chosen.append(name)
        return chosen


class RawColumns(TransformerMixin, BaseEstimator):
    """The model's first step: keep the raw columns seen in fit, in fit's order.

    Records ``feature_names_in_`` (the columns the server requires and the evaluator
    permutes) whatever the user's transformers do, and drops extra columns a request or
    a notebook frame brings along, as kfops' own ColumnTransformer does.
    """

    def fit(self, frame: pd.DataFrame, target: Any = None) -> RawColumns:
        self.feature_names_in_ = np.asarray(list(frame.columns), dtype=object)
        self.n_features_in_ = len(self.feature_names_in_)
        return self

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame(frame)[list(self.feature_names_in_)]

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        return self.feature_names_in_


class CarriedTransformer(TransformerMixin, BaseEstimator):
    """The user's transformer, its code inside every pickle of the model.

    Pickled with any pickler (joblib, pickle, MLflow's cloudpickle, the model server's
    hand-off to its inference process), it stores its state as cloudpickle bytes, which
    hold the user's class by value (:func:`kfops.training.user_code.carry_by_value`); it
    loads wherever kfops is installed, without the user's package.
    """

    def __init__(self, transformer: Any = None) -> None:
        self.transformer = transformer

    def fit(self, frame: Any, target: Any = None) -> CarriedTransformer:
        self.transformer_ = clone(self.transformer).fit(frame, target)
        return self

    def transform(self, frame: Any) -> Any:
        return self.transformer_.transform(frame)

    def get_feature_names_out(self, input_features: Any = None) -> Any:
        return self.transformer_.get_feature_names_out(input_features)

    def __getstate__(self) -> dict[str, Any]:
        import cloudpickle

        return {CARRIED: cloudpickle.dumps(super().__getstate__())}

    def __setstate__(self, state: dict[str, Any]) -> None:
        import cloudpickle

        super().__setstate__(cloudpickle.loads(state[CARRIED]) if CARRIED in state else state)


def _key(index: int) -> str:
    return f"model.preprocessing[{index}]"


def make_transformer(entry: PreprocessingStep, index: int, code_root: str | None = None) -> Any:
    """The configured transformer, built with its params; checked to fit and transform."""
    key = _key(index)
    cls = import_object(entry.transformer, f"{key}.transformer", code_root)
    if not inspect.isclass(cls) or not all(
        callable(getattr(cls, method, None)) for method in ("fit", "transform", "get_params")
    ):
        raise ConfigurationError(
            f"{key}.transformer: '{entry.transformer}' is not a scikit-learn transformer class "
            "(it needs fit, transform and get_params; subclass sklearn.base.BaseEstimator and "
            "TransformerMixin)"
        )
    try:
        transformer = cls(**entry.params)
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(
            f"{key}.params: {entry.transformer} rejected {entry.params} ({one_line(exc)}); "
            "fix the values"
        ) from exc
    if entry.columns is None and hasattr(transformer, "set_output"):
        # scikit-learn's own transformers then hand the next step named columns; one that
        # cannot keeps its own output.
        with contextlib.suppress(Exception):
            transformer.set_output(transform="pandas")
    carry_by_value(cls)
    return CarriedTransformer(transformer)


def _rows(output: Any) -> int:
    return output.shape[0] if hasattr(output, "shape") else len(output)


def _fit_check(
    transformer: Any, index: int, frame: pd.DataFrame, target: pd.Series, name: str
) -> Any:
    """Fit a copy on the training rows; the output, or one line naming the entry."""
    key = f"{_key(index)}.transformer"
    try:
        output = clone(transformer).fit_transform(frame, target)
    except Exception as exc:  # the user's code: any error
        raise TrainingError(
            f"{key}: {name} failed on the training data ({type(exc).__name__}: "
            f"{one_line(exc)}); fix the transformer or its columns"
        ) from exc
    if _rows(output) != len(frame):
        raise TrainingError(
            f"{key}: {name} turned {len(frame)} rows into {_rows(output)}; a transformer in "
            "the model must keep one output row per input row (filter rows in a step instead)"
        )
    return output


def check_preprocessing(
    entries: list[PreprocessingStep],
    transformers: list[Any],
    features: pd.DataFrame,
    target: pd.Series,
) -> None:
    """Run each entry on the training rows as the model will, to fail before fitting."""
    frame = features
    for index, (entry, transformer) in enumerate(zip(entries, transformers, strict=True)):
        if entry.columns is not None:
            continue
        output = _fit_check(transformer, index, frame, target, entry.transformer)
        if not isinstance(output, pd.DataFrame):
            raise TrainingError(
                f"{_key(index)}.transformer: {entry.transformer} returned "
                f"{type(output).__name__}, not a pandas DataFrame; without columns: it must "
                "return named columns, or give it columns: and numbers out"
            )
        frame = output
    for index, (entry, transformer) in enumerate(zip(entries, transformers, strict=True)):
        if entry.columns is None:
            continue
        missing = [name for name in entry.columns if name not in frame.columns]
        if missing:
            raise ConfigurationError(
                f"{_key(index)}.columns: no column '{missing[0]}' in the features; use "
                f"some of {', '.join(map(str, frame.columns))}"
            )
        output = _fit_check(transformer, index, frame[entry.columns], target, entry.transformer)
        values = output.toarray() if hasattr(output, "toarray") else np.asarray(output)
        if values.dtype.kind not in "biuf":
            raise TrainingError(
                f"{_key(index)}.transformer: {entry.transformer} returned {values.dtype} "
                "values; a transformer with columns: replaces kfops' encoding and must "
                "return numbers"
            )
