"""The forest fast path gives scikit-learn's numbers exactly, and defers when it cannot."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import (
    ExtraTreesRegressor,
    GradientBoostingClassifier,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

from kfops.serving.forest import forest_call
from kfops.serving.predictor import Predictor

rng = np.random.default_rng(0)
FRAME = pd.DataFrame({
    "a": rng.normal(size=300), "b": rng.integers(0, 50, size=300).astype(float),
    "c": rng.choice(["x", "y", "z"], size=300),
})  # fmt: skip
LABELS = np.where(FRAME["a"] + (FRAME["c"] == "x") > 0.3, "churn", "stay")
TARGET = FRAME["a"] * 3 + FRAME["b"]


def pipeline(final, sparse_threshold: float = 0.3) -> Pipeline:
    prep = ColumnTransformer(
        [("num", SimpleImputer(strategy="median"), ["a", "b"]),
         ("cat", OneHotEncoder(handle_unknown="ignore"), ["c"])],
        sparse_threshold=sparse_threshold,
    )  # fmt: skip
    return Pipeline([("prep", prep), ("model", final)])


@pytest.mark.parametrize("n_classes", [2, 3])
def test_classifier_probabilities_are_bit_identical(n_classes: int) -> None:
    labels = LABELS if n_classes == 2 else pd.cut(FRAME["a"], 3, labels=["lo", "mid", "hi"])
    model = pipeline(RandomForestClassifier(n_estimators=30, random_state=0)).fit(FRAME, labels)
    call = forest_call(model)
    assert call is not None
    assert np.array_equal(call(FRAME.head(50)), model.predict_proba(FRAME.head(50)))
    predictor = Predictor(model)
    out = predictor.predict(FRAME.head(50))
    assert out.labels.tolist() == model.predict(FRAME.head(50)).tolist()


def test_the_batch_as_column_arrays_gives_the_same_numbers() -> None:
    """The server hands the batch over as a dict of arrays; no DataFrame is built for it."""
    batch = FRAME.head(40).copy()
    batch.loc[::5, "a"] = np.nan
    batch.loc[::7, "c"] = "unseen"
    columns = {name: batch[name].to_numpy() for name in batch}
    model = pipeline(RandomForestClassifier(n_estimators=30, random_state=0)).fit(FRAME, LABELS)
    assert np.array_equal(forest_call(model)(columns), model.predict_proba(batch))
    out = Predictor(model).predict_columns(columns)
    assert out.labels.tolist() == model.predict(batch).tolist()
    regressor = pipeline(RandomForestRegressor(n_estimators=10, random_state=0)).fit(FRAME, TARGET)
    assert np.array_equal(Predictor(regressor).predict_columns(columns).labels,
                          regressor.predict(batch))  # fmt: skip
    boosted = pipeline(GradientBoostingClassifier(n_estimators=5)).fit(FRAME, LABELS)
    assert Predictor(boosted).predict_columns(columns).labels.tolist() == (
        boosted.predict(batch).tolist()
    )


def test_regressors_and_bare_forests_are_bit_identical() -> None:
    model = pipeline(ExtraTreesRegressor(n_estimators=20, random_state=0)).fit(FRAME, TARGET)
    assert np.array_equal(forest_call(model)(FRAME), model.predict(FRAME))
    bare = RandomForestRegressor(n_estimators=10, random_state=0).fit(FRAME[["a", "b"]], TARGET)
    assert np.array_equal(forest_call(bare)(FRAME[["a", "b"]]), bare.predict(FRAME[["a", "b"]]))
    assert np.array_equal(Predictor(bare).predict(FRAME[["a", "b"]]).labels,
                          bare.predict(FRAME[["a", "b"]]))  # fmt: skip


def test_it_defers_to_scikit_learn_when_it_cannot_match_it() -> None:
    bare = RandomForestRegressor(n_estimators=10, random_state=0).fit(FRAME[["a", "b"]], TARGET)
    call = forest_call(bare)
    swapped = FRAME[["b", "a"]]
    with pytest.raises(ValueError, match="feature names"):
        call(swapped)  # scikit-learn's own check, not silently wrong columns
    with_nan = FRAME[["a", "b"]].head(5).copy()
    with_nan.iloc[0, 0] = np.nan
    assert np.array_equal(call(with_nan), bare.predict(with_nan))  # scikit-learn's NaN routing
    sparse_model = pipeline(RandomForestClassifier(n_estimators=5, random_state=0), 1.0)
    sparse_model.fit(FRAME, LABELS)
    assert np.array_equal(forest_call(sparse_model)(FRAME), sparse_model.predict_proba(FRAME))
    boosting = pipeline(GradientBoostingClassifier(n_estimators=5)).fit(FRAME, LABELS)
    assert forest_call(boosting) is None
    multi = RandomForestRegressor(n_estimators=3).fit(FRAME[["a"]], np.c_[TARGET, TARGET])
    assert forest_call(multi) is None
