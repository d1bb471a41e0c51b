"""The server's compiled preprocessing gives scikit-learn's output, value for value.

Each case fits a real scikit-learn head on generated training data, then compares
``compile_preprocessing(head)(frame)`` with ``head.transform(frame)`` on generated frames
with missing numbers, missing and unseen categories, and integer columns.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import sparse
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from kfops.serving.preprocessing import COLUMNS, compile_preprocessing
from kfops.training.estimator import build_model_pipeline

NUMBERS = ["tenure", "charges"]
COUNTS = ["calls"]
TEXT = ["plan", "region"]
LEVELS = ["a", "b", "c", "d"]

rng = np.random.default_rng(0)


def training_frame(rows: int = 200, missing: bool = True) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "tenure": rng.normal(20, 5, rows),
            "charges": rng.normal(70, 10, rows),
            "calls": rng.integers(0, 9, rows),
            "plan": rng.choice(LEVELS[:3], rows).astype(object),
            "region": rng.choice(LEVELS[:3], rows).astype(object),
        }
    )
    if missing:
        frame.loc[::7, "tenure"] = np.nan
        frame.loc[::11, "region"] = np.nan  # NaN becomes a category of a bare encoder
    return frame


number = st.one_of(st.floats(-100, 100, allow_nan=False), st.just(float("nan")))
level = st.one_of(st.sampled_from(LEVELS + ["unseen"]), st.none(), st.just(float("nan")))


@st.composite
def frames(draw: st.DrawFn, integers: bool = True) -> pd.DataFrame:
    rows = draw(st.integers(1, 40))
    data = {name: draw(st.lists(number, min_size=rows, max_size=rows)) for name in NUMBERS}
    data["calls"] = (
        draw(st.lists(st.integers(0, 20), min_size=rows, max_size=rows))
        if integers
        else draw(st.lists(number, min_size=rows, max_size=rows))
    )
    for name in TEXT:
        data[name] = pd.Series(draw(st.lists(level, min_size=rows, max_size=rows)), dtype=object)
    return pd.DataFrame(data)


def bare_head(**column_transformer: object) -> ColumnTransformer:
    return ColumnTransformer(
        [
            ("numbers", SimpleImputer(strategy="median"), NUMBERS + COUNTS),
            ("text", OneHotEncoder(handle_unknown="ignore"), TEXT),
        ],
        **column_transformer,
    ).fit(training_frame())


def kfops_head() -> Pipeline:
    """kfops' own preprocessing: median imputer; text, a "__missing__" level, one-hot."""
    model = build_model_pipeline(
        "sklearn.ensemble.RandomForestClassifier",
        {"n_estimators": 3},
        NUMBERS + COUNTS,
        TEXT,
    )
    frame = training_frame()
    model.fit(frame, rng.integers(0, 2, len(frame)))
    return model[:-1]


def same(expected: object, got: object) -> None:
    assert type(got) is type(expected) or (sparse.issparse(got) and sparse.issparse(expected))
    if sparse.issparse(expected):
        assert got.format == expected.format
        expected, got = expected.toarray(), got.toarray()
    np.testing.assert_array_equal(np.asarray(got), np.asarray(expected))
    assert np.asarray(got).dtype == np.asarray(expected).dtype


HEADS = {
    "dense column transformer": bare_head(),
    "sparse column transformer": bare_head(sparse_threshold=1.0),
    "kfops preprocessing": kfops_head(),
}


@pytest.mark.parametrize("name", sorted(HEADS))
@settings(max_examples=60, deadline=None)
@given(frame=frames())
def test_compiled_head_equals_scikit_learn(name: str, frame: pd.DataFrame) -> None:
    head = HEADS[name]
    compiled = compile_preprocessing(head)
    expected = head.transform(frame)
    same(expected, compiled(frame))
    # The server's form: the batch's columns as arrays, no DataFrame.
    assert getattr(compiled, COLUMNS, False)
    same(expected, compiled({name: frame[name].to_numpy() for name in frame}))


def test_the_fast_paths_are_taken() -> None:
    """Not a fallback in disguise: the compiled head never calls the fitted transformers."""
    head = bare_head()
    compiled = compile_preprocessing(head)
    frame = training_frame(30)
    expected = head.transform(frame)
    for _, transformer, _ in head.transformers_:
        if hasattr(transformer, "transform"):
            transformer.transform = None  # would raise if called
    same(expected, compiled(frame))


def test_unknown_categories_are_refused_when_the_encoder_refuses() -> None:
    head = ColumnTransformer([("text", OneHotEncoder(handle_unknown="error"), TEXT)])
    head.fit(training_frame(missing=False))
    compiled = compile_preprocessing(head)
    known = training_frame(5, missing=False)
    same(head.transform(known), compiled(known))
    unseen = known.assign(plan="unseen")
    with pytest.raises(ValueError, match="unknown categor"):
        head.transform(unseen)
    with pytest.raises(ValueError, match="unknown categor"):
        compiled(unseen)


@settings(max_examples=30, deadline=None)
@given(frame=frames(integers=False))
def test_other_transformers_go_through_their_own_transform(frame: pd.DataFrame) -> None:
    head = Pipeline(
        [
            ("impute", SimpleImputer(strategy="mean")),
            ("scale", StandardScaler()),
        ]
    ).fit(training_frame()[NUMBERS + COUNTS])
    numbers = frame[NUMBERS + COUNTS]
    same(head.transform(numbers), compile_preprocessing(head)(numbers))


def test_an_all_missing_training_column_keeps_scikit_learns_rule() -> None:
    train = training_frame()[NUMBERS].assign(charges=np.nan)
    imputer = SimpleImputer(strategy="median").fit(train)
    frame = training_frame(10)[NUMBERS]
    with pytest.warns(UserWarning):
        expected = imputer.transform(frame)
    with pytest.warns(UserWarning):
        same(expected, compile_preprocessing(imputer)(frame))


def test_missing_columns_get_scikit_learns_error() -> None:
    head = bare_head()
    frame = training_frame(5).drop(columns=["plan"])
    with pytest.raises(ValueError, match="columns are missing"):
        compile_preprocessing(head)(frame)
