"""The model as one scikit-learn Pipeline: raw feature columns in, predictions out.

Preprocessing lives inside the fitted object, so the server, the evaluator and a notebook
all feed it the same raw rows (text categories, missing values and all) and can never
drift from what training did.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import is_classifier, is_regressor
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder

from kfops.config import DataConfig, ModelConfig, TaskType
from kfops.data.ingest import feature_columns
from kfops.errors import ConfigurationError, DataError, TrainingError, one_line

MISSING_CATEGORY = "__missing__"
PREPROCESS_STEP = "preprocess"
MODEL_STEP = "model"


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


def build_model_pipeline(
    estimator: str, params: dict[str, Any], numeric: list[str], categorical: list[str]
) -> Pipeline:
    """Impute and encode the raw columns, then apply the configured estimator.

    Numbers get the training median for missing values; categories get a "__missing__"
    level and a one-hot encoding that ignores levels unseen in training.
    """
    model = _make_estimator(estimator, params)
    categories = Pipeline(
        [
            ("as_text", FunctionTransformer(as_text, feature_names_out="one-to-one")),
            ("impute", SimpleImputer(strategy="constant", fill_value=MISSING_CATEGORY)),
            ("one_hot", OneHotEncoder(handle_unknown="ignore")),
        ]
    )
    preprocess = ColumnTransformer(
        [
            ("numeric", SimpleImputer(strategy="median"), numeric),
            ("categorical", categories, categorical),
        ],
        remainder="drop",
    )
    return Pipeline([(PREPROCESS_STEP, preprocess), (MODEL_STEP, model)])


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
    train_df: pd.DataFrame, data_cfg: DataConfig, model_cfg: ModelConfig, task: TaskType
) -> Pipeline:
    """Fit the pipeline on the training split; failures inside fit become TrainingError."""
    numeric, categorical = feature_columns(train_df, data_cfg)
    if not numeric and not categorical:
        raise DataError(
            f"no feature columns left besides target '{data_cfg.target}' and the excluded "
            "columns; add features to the dataset or shorten data.drop_columns"
        )
    pipeline = build_model_pipeline(
        model_cfg.estimator_for(task), model_cfg.params, numeric, categorical
    )
    _check_kind(model_cfg.estimator_for(task), pipeline.named_steps[MODEL_STEP], task)
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
