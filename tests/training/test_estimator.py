"""Loading estimators and building, fitting and pickling the model pipeline."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import RandomForestClassifier

from kfops.config import DataConfig, ModelConfig, TaskType
from kfops.errors import ConfigurationError, DataError, TrainingError
from kfops.training.estimator import (
    MODEL_STEP,
    PREPROCESS_STEP,
    as_text,
    build_model_pipeline,
    load_estimator_class,
    train_model,
)

CLASSIFIER = "sklearn.ensemble.RandomForestClassifier"


def data_cfg(target: str = "label", **fields) -> DataConfig:
    drop = ["amount"] if target == "label" else ["label"]
    return DataConfig.model_validate(
        {"path": "d.csv", "target": target, "drop_columns": drop, **fields}
    )


def model_cfg(estimator: str = CLASSIFIER, **params) -> ModelConfig:
    return ModelConfig(estimator=estimator, params=params)


# load_estimator_class -------------------------------------------------------------------


def test_load_estimator_class_imports_the_class() -> None:
    assert load_estimator_class(CLASSIFIER) is RandomForestClassifier


@pytest.mark.parametrize(
    ("dotted", "match"),
    [
        ("sklearn.ensembl.RandomForestClassifier", r"model\.estimator: cannot import module "
         r"'sklearn\.ensembl' for 'sklearn\.ensembl\.RandomForestClassifier'"),
        ("sklearn.ensemble.RandomForestClassifer", r"model\.estimator: module 'sklearn\.ensemble' "
         r"has no class 'RandomForestClassifer'; check the spelling"),
        ("collections.OrderedDict", r"model\.estimator: 'collections\.OrderedDict' is not a "
         r"scikit-learn estimator class \(it needs fit, predict and get_params\)"),
        ("os.path", r"'os\.path' is not a scikit-learn estimator class"),
    ],
)  # fmt: skip
def test_load_estimator_class_errors_name_the_setting(dotted: str, match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        load_estimator_class(dotted)


# build_model_pipeline -------------------------------------------------------------------


def test_unknown_estimator_param_names_the_param_and_the_estimator() -> None:
    match = (
        r"model\.params\.n_trees: sklearn\.ensemble\.RandomForestClassifier has no parameter "
        r"'n_trees'; use one of: .*n_estimators"
    )
    with pytest.raises(ConfigurationError, match=match):
        build_model_pipeline(CLASSIFIER, {"n_trees": 10}, ["x"], ["color"])


def test_pipeline_passes_params_and_has_named_steps() -> None:
    pipeline = build_model_pipeline(CLASSIFIER, {"n_estimators": 7}, ["x"], ["color"])
    assert list(pipeline.named_steps) == [PREPROCESS_STEP, MODEL_STEP]
    assert pipeline.named_steps[MODEL_STEP].n_estimators == 7


def test_as_text_makes_categories_uniform_strings_and_keeps_missing() -> None:
    out = as_text(pd.DataFrame({"b": [True, None, False], "m": [1, "1", np.nan]}))
    assert out["b"].tolist()[0::2] == ["True", "False"]
    assert out["m"].tolist()[:2] == ["1", "1"]
    assert out["b"].isna().tolist() == [False, True, False]
    assert out["m"].isna().tolist() == [False, False, True]


# train_model ----------------------------------------------------------------------------


def test_fitted_pipeline_takes_raw_rows_with_gaps_and_unseen_categories(mixed_frame) -> None:
    model = train_model(
        mixed_frame, data_cfg(), model_cfg(n_estimators=20, random_state=0), TaskType.CLASSIFICATION
    )
    raw = pd.DataFrame(
        {
            "x": [np.nan, 0.1, 2.0],
            "count": [1, 2, 3],
            "color": [None, "purple", "red"],
            "flag": [True, None, False],
        }
    )
    assert set(model.predict(raw)) <= {"yes", "no"}
    assert list(model.feature_names_in_) == ["x", "count", "color", "flag"]
    assert model.score(mixed_frame[raw.columns], mixed_frame["label"]) > 0.8


def test_fitted_pipeline_survives_pickling(mixed_frame) -> None:
    model = train_model(
        mixed_frame, data_cfg(), model_cfg(n_estimators=10, random_state=0), TaskType.CLASSIFICATION
    )
    features = mixed_frame[list(model.feature_names_in_)]
    restored = pickle.loads(pickle.dumps(model))
    assert (restored.predict_proba(features) == model.predict_proba(features)).all()


def test_regression_pipeline(mixed_frame) -> None:
    cfg = data_cfg(target="amount")
    model = train_model(
        mixed_frame,
        cfg,
        model_cfg("sklearn.linear_model.Ridge"),
        TaskType.REGRESSION,
    )
    features = mixed_frame[list(model.feature_names_in_)]
    assert model.score(features, mixed_frame["amount"]) > 0.8


@pytest.mark.parametrize(
    ("estimator", "task", "match"),
    [
        ("sklearn.ensemble.RandomForestRegressor", TaskType.CLASSIFICATION,
         r"RandomForestRegressor is a regressor but the task is classification"),
        (CLASSIFIER, TaskType.REGRESSION,
         r"RandomForestClassifier is a classifier but the task is regression"),
    ],
)  # fmt: skip
def test_estimator_kind_must_match_the_task(estimator: str, task: TaskType, match: str) -> None:
    with pytest.raises(ConfigurationError, match=rf"model\.estimator: sklearn\.ensemble\.{match}"):
        train_model(
            pd.DataFrame({"x": [1.0, 2.0], "label": [0, 1]}), data_cfg(), model_cfg(estimator), task
        )


def test_invalid_param_value_is_a_configuration_error(mixed_frame) -> None:
    with pytest.raises(ConfigurationError, match=r"model\.params: The 'n_estimators' parameter"):
        train_model(mixed_frame, data_cfg(), model_cfg(n_estimators=0), TaskType.CLASSIFICATION)


def test_fit_failure_is_a_training_error(mixed_frame) -> None:
    negative = mixed_frame.assign(x=-mixed_frame["x"].abs())
    cfg = model_cfg("sklearn.naive_bayes.MultinomialNB")
    match = r"fitting sklearn\.naive_bayes\.MultinomialNB on 200 rows failed: .*[Nn]egative"
    with pytest.raises(TrainingError, match=match):
        train_model(negative, data_cfg(), cfg, TaskType.CLASSIFICATION)


def test_no_feature_columns_is_a_data_error() -> None:
    df = pd.DataFrame({"id": ["a", "b"], "label": [0, 1], "amount": [1.0, 2.0]})
    with pytest.raises(DataError, match=r"no feature columns left besides target 'label'"):
        train_model(df, data_cfg(entity_column="id"), model_cfg(), TaskType.CLASSIFICATION)
