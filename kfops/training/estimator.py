"""The model as one scikit-learn Pipeline: raw feature columns in, predictions out.

Preprocessing lives inside the fitted object, so the server, the evaluator and a notebook
all feed it the same raw rows (text categories, missing values and all) and can never
drift from what training did.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import is_classifier, is_regressor
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder

from kfops.config import DataConfig, ModelConfig, PreprocessingStep, TaskType
from kfops.data.ingest import feature_columns
from kfops.errors import ConfigurationError, DataError, TrainingError, one_line
from kfops.training.preprocessing import (
    ColumnKind,
    RawColumns,
    check_preprocessing,
    make_transformer,
)

MISSING_CATEGORY = "__missing__"
PREPROCESS_STEP = "preprocess"
MODEL_STEP = "model"
INPUTS_STEP = "inputs"
CUSTOM_STEP = "custom_"  # + the index in model.preprocessing


def load_estimator_class(dotted: str) -> type:
    """Import ``package.module.Class`` and check that it fits and predicts like an estimator."""
    module_name, _, class_name = dotted.rpartition(".")
    example = "e.g. sklearn.ensemble.RandomForestClassifier"
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigurationError(
            f"model.estimator: cannot import module '{module_name}' for '{dotted}' ({exc}); "
            f"check the dotted path, {example}, or install the package"
        ) from exc
    cls = getattr(module, class_name, None)
    if cls is None:
        raise ConfigurationError(
            f"model.estimator: module '{module_name}' has no class '{class_name}'; "
            f"check the spelling, {example}"
        )
    if not inspect.isclass(cls) or not all(
        callable(getattr(cls, method, None)) for method in ("fit", "predict", "get_params")
    ):
        raise ConfigurationError(
            f"model.estimator: '{dotted}' is not a scikit-learn estimator class "
            f"(it needs fit, predict and get_params); use one, {example}"
        )
    return cls


def _make_estimator(estimator: str, params: dict[str, Any]) -> Any:
    cls = load_estimator_class(estimator)
    signature = inspect.signature(cls.__init__)
    accepts_any = any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values())
    known = [name for name in signature.parameters if name != "self"]
    for name in params:
        if not accepts_any and name not in known:
            shown = ", ".join(known[:15]) + (", ..." if len(known) > 15 else "")
            raise ConfigurationError(
                f"model.params.{name}: {estimator} has no parameter '{name}'; use one of: {shown}"
            )
    try:
        return cls(**params)
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(
            f"model.params: {estimator} rejected {params} ({exc}); fix the values"
        ) from exc


def as_text(frame: pd.DataFrame | np.ndarray) -> pd.DataFrame:
    """Categories as strings, missing stays missing: one-hot encoding needs a single type.

    Without this a boolean column, or a column mixing 1 and "1" (JSON requests do), breaks
    the encoder. Module-level so that the fitted pipeline pickles.
    """
    frame = pd.DataFrame(frame).astype(object)
    return frame.astype(str).where(frame.notna(), np.nan)


def _categories() -> Pipeline:
    return Pipeline(
        [
            ("as_text", FunctionTransformer(as_text, feature_names_out="one-to-one")),
            ("impute", SimpleImputer(strategy="constant", fill_value=MISSING_CATEGORY)),
            ("one_hot", OneHotEncoder(handle_unknown="ignore")),
        ]
    )


def build_model_pipeline(
    estimator: str,
    params: dict[str, Any],
    numeric: list[str],
    categorical: list[str],
    preprocessing: Sequence[PreprocessingStep] = (),
    code_root: str | None = None,
) -> Pipeline:
    """Impute and encode the raw columns, then apply the configured estimator.

    Numbers get the training median for missing values; categories get a "__missing__"
    level and a one-hot encoding that ignores levels unseen in training. With
    ``model.preprocessing`` the user's transformers come first (whole frame) or take
    their columns instead (column groups), see :mod:`kfops.training.preprocessing`.
    """
    model = _make_estimator(estimator, params)
    if not preprocessing:
        preprocess = ColumnTransformer(
            [
                ("numeric", SimpleImputer(strategy="median"), numeric),
                ("categorical", _categories(), categorical),
            ],
            remainder="drop",
        )
        return Pipeline([(PREPROCESS_STEP, preprocess), (MODEL_STEP, model)])
    transformers = [make_transformer(e, i, code_root) for i, e in enumerate(preprocessing)]
    return _with_user_transformers(model, preprocessing, transformers)


def _with_user_transformers(
    model: Any, entries: Sequence[PreprocessingStep], transformers: list[Any]
) -> Pipeline:
    pairs = list(enumerate(zip(entries, transformers, strict=True)))
    whole = [(f"{CUSTOM_STEP}{i}", t) for i, (e, t) in pairs if e.columns is None]
    groups = [(f"{CUSTOM_STEP}{i}", t, list(e.columns)) for i, (e, t) in pairs if e.columns]
    taken = tuple(name for _, _, columns in groups for name in columns)
    preprocess = ColumnTransformer(
        [
            *groups,
            ("numeric", SimpleImputer(strategy="median"), ColumnKind(numeric=True, taken=taken)),
            ("categorical", _categories(), ColumnKind(numeric=False, taken=taken)),
        ],
        remainder="drop",
    )
    inputs = (INPUTS_STEP, RawColumns())
    return Pipeline([inputs, *whole, (PREPROCESS_STEP, preprocess), (MODEL_STEP, model)])


def save_model(model: Pipeline, path: str) -> None:
    """Write the fitted model for the later steps (evaluate reads it with joblib.load).

    cloudpickle rather than joblib's pickler: it stores the user's transformer classes by
    value (:func:`kfops.training.user_code.carry_by_value`), so loading needs no user code.
    """
    import cloudpickle

    with open(path, "wb") as handle:
        cloudpickle.dump(model, handle)


def user_transformers(pipeline: Pipeline, count: int) -> list[Any]:
    """The (unfitted) user transformers of a built pipeline, in ``model.preprocessing`` order."""
    found: dict[str, Any] = dict(pipeline.steps)
    found.update({name: t for name, t, _ in pipeline.named_steps[PREPROCESS_STEP].transformers})
    return [found[f"{CUSTOM_STEP}{index}"] for index in range(count)]


def _check_kind(estimator: str, model: Any, task: TaskType) -> None:
    if task is TaskType.CLASSIFICATION and is_regressor(model):
        wrong, fix = "a regressor", "a classifier, or set data.task: regression"
    elif task is TaskType.REGRESSION and is_classifier(model):
        wrong, fix = "a classifier", "a regressor, or set data.task: classification"
    else:
        return
    raise ConfigurationError(
        f"model.estimator: {estimator} is {wrong} but the task is {task}; use {fix}"
    )


def train_model(
    train_df: pd.DataFrame,
    data_cfg: DataConfig,
    model_cfg: ModelConfig,
    task: TaskType,
    code_root: str | None = None,
) -> Pipeline:
    """Fit the pipeline on the training split; failures inside fit become TrainingError.

    ``code_root``: the project folder, where ``model.preprocessing``'s package is found
    when it is not installed.
    """
    numeric, categorical = feature_columns(train_df, data_cfg)
    if not numeric and not categorical:
        raise DataError(
            f"no feature columns left besides target '{data_cfg.target}' and the excluded "
            "columns; add features to the dataset or shorten data.drop_columns"
        )
    pipeline = build_model_pipeline(
        model_cfg.estimator_for(task),
        model_cfg.params,
        numeric,
        categorical,
        model_cfg.preprocessing,
        code_root,
    )
    _check_kind(model_cfg.estimator_for(task), pipeline.named_steps[MODEL_STEP], task)
    if model_cfg.preprocessing:
        check_preprocessing(
            model_cfg.preprocessing,
            user_transformers(pipeline, len(model_cfg.preprocessing)),
            train_df[numeric + categorical],
            train_df[data_cfg.target],
        )
    try:
        pipeline.fit(train_df[numeric + categorical], train_df[data_cfg.target])
    except Exception as exc:  # the estimator's own errors, from any library
        detail = one_line(exc)
        if type(exc).__name__ == "InvalidParameterError":  # scikit-learn's value checks
            raise ConfigurationError(f"model.params: {detail}; fix the value") from exc
        raise TrainingError(
            f"fitting {model_cfg.estimator_for(task)} on {len(train_df)} rows failed: {detail}; "
            "check model.params and the feature columns' types"
        ) from exc
    return pipeline
