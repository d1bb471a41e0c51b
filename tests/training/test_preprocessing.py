"""model.preprocessing: the user's transformers inside the one fitted model."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cloudpickle
import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, TransformerMixin

from kfops.config import DataConfig, ModelConfig, TaskType
from kfops.errors import ConfigurationError, TrainingError
from kfops.training.estimator import (
    INPUTS_STEP,
    MODEL_STEP,
    PREPROCESS_STEP,
    save_model,
    train_model,
)

PROJECT = Path(__file__).resolve().parents[1] / "user_project"
RATIO = "acme_ml.transformers.RatioFeature"
HERE = __name__


class DropsRows(BaseEstimator, TransformerMixin):
    def fit(self, frame, target=None):
        return self

    def transform(self, frame):
        return frame.iloc[1:]


class ReturnsArray(BaseEstimator, TransformerMixin):
    def fit(self, frame, target=None):
        return self

    def transform(self, frame):
        return np.zeros((len(frame), 2))


class ReturnsText(BaseEstimator, TransformerMixin):
    def fit(self, frame, target=None):
        return self

    def transform(self, frame):
        return np.full((len(frame), 1), "a", dtype=object)


def data_cfg() -> DataConfig:
    return DataConfig(path="d.csv", target="amount", drop_columns=["label"])


def fit(frame: pd.DataFrame, *preprocessing) -> object:
    model_cfg = ModelConfig.model_validate(
        {
            "estimator": "sklearn.linear_model.Ridge",
            "preprocessing": list(preprocessing),
        }
    )
    return train_model(frame, data_cfg(), model_cfg, TaskType.REGRESSION, code_root=str(PROJECT))


def ratio(**params) -> dict:
    return {"transformer": RATIO, "params": {"numerator": "x", "denominator": "count", **params}}


def test_a_whole_frame_transformer_runs_first_and_kfops_encodes_its_output(mixed_frame) -> None:
    model = fit(mixed_frame, ratio(name="x_per_count"))
    assert [name for name, _ in model.steps] == [
        INPUTS_STEP,
        "custom_0",
        PREPROCESS_STEP,
        MODEL_STEP,
    ]
    assert type(model.named_steps["custom_0"].transformer_).__name__ == "RatioFeature"
    encoded = model.named_steps[PREPROCESS_STEP].get_feature_names_out()
    assert "numeric__x_per_count" in encoded, "the added column reaches the estimator"
    # The server's required columns stay the raw ones.
    assert list(model.feature_names_in_) == ["x", "count", "color", "flag"]
    rows = mixed_frame.drop(columns=["amount", "label"]).head(5)
    assert model.predict(rows).shape == (5,)


def test_a_column_group_replaces_kfops_encoding_for_its_columns(mixed_frame) -> None:
    model = fit(
        mixed_frame,
        ratio(),
        {"transformer": "sklearn.preprocessing.StandardScaler", "columns": ["count"]},
    )
    preprocess = model.named_steps[PREPROCESS_STEP]
    assert preprocess.named_transformers_["custom_1"].transformer_.mean_.shape == (1,)
    encoded = set(preprocess.get_feature_names_out())
    assert {"custom_1__count", "numeric__x", "numeric__ratio"} <= encoded
    assert "numeric__count" not in encoded, "a grouped column is not encoded twice"


def test_one_transformer_may_be_given_as_a_dotted_path() -> None:
    assert (
        ModelConfig.model_validate({"preprocessing": RATIO}).preprocessing[0].transformer == RATIO
    )


@pytest.mark.parametrize(
    ("entry", "error", "match"),
    [
        ({"transformer": "acme_ml.transformerz.RatioFeature"}, ConfigurationError,
         r"^model\.preprocessing\[0\]\.transformer: cannot import module 'acme_ml\.transformerz'"),
        ({"transformer": "acme_ml.transformers.Ratio"}, ConfigurationError,
         r"^model\.preprocessing\[0\]\.transformer: module 'acme_ml\.transformers' has no 'Ratio'"),
        ({"transformer": "sklearn.linear_model.Ridge"}, ConfigurationError,
         r"^model\.preprocessing\[0\]\.transformer: 'sklearn\.linear_model\.Ridge' is not a "
         r"scikit-learn transformer class"),
        ({"transformer": RATIO, "params": {"numerater": "x"}}, ConfigurationError,
         r"^model\.preprocessing\[0\]\.params: acme_ml\.transformers\.RatioFeature rejected"),
        (ratio(denominator="no_such"), TrainingError,
         r"^model\.preprocessing\[0\]\.transformer: acme_ml\.transformers\.RatioFeature failed "
         r"on the training data \(KeyError: .*no_such.*\); fix"),
        ({"transformer": f"{HERE}.DropsRows"}, TrainingError,
         r"^model\.preprocessing\[0\]\.transformer: .*DropsRows turned 200 rows into 199; "
         r"a transformer in the model must keep one output row per input row"),
        ({"transformer": f"{HERE}.ReturnsArray"}, TrainingError,
         r"^model\.preprocessing\[0\]\.transformer: .*ReturnsArray returned ndarray, not a "
         r"pandas DataFrame"),
        ({"transformer": f"{HERE}.ReturnsText", "columns": ["x"]}, TrainingError,
         r"^model\.preprocessing\[0\]\.transformer: .*ReturnsText returned object values"),
        ({"transformer": "sklearn.preprocessing.StandardScaler", "columns": ["nope"]},
         ConfigurationError, r"^model\.preprocessing\[0\]\.columns: no column 'nope'"),
    ],
)  # fmt: skip
def test_bad_preprocessing_is_one_line_naming_the_key(mixed_frame, entry, error, match) -> None:
    with pytest.raises(error, match=match) as caught:
        fit(mixed_frame, entry)
    assert "\n" not in caught.value.message


def test_the_saved_model_carries_the_users_code(mixed_frame, tmp_path: Path) -> None:
    """Loaded where acme_ml is not importable (a server's pod), it still applies the ratio."""
    model = fit(mixed_frame, ratio(name="x_per_count"))
    path = tmp_path / "model.pkl"
    save_model(model, str(path))
    rows = mixed_frame.drop(columns=["amount", "label"]).head(5)
    rows.to_parquet(tmp_path / "rows.parquet")
    script = (
        "import json, sys, joblib, pandas as pd\n"
        "assert 'acme_ml' not in sys.modules\n"
        f"model = joblib.load({str(path)!r})\n"
        f"rows = pd.read_parquet({str(tmp_path / 'rows.parquet')!r})\n"
        "print(json.dumps(model.predict(rows).tolist()))\n"
        "print(type(model.named_steps['custom_0'].transformer_).__module__)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    elsewhere = subprocess.run([sys.executable, "-c", "import acme_ml"], cwd=tmp_path, check=False)
    assert elsewhere.returncode != 0, "acme_ml is not importable where the model was loaded"
    predicted = json.loads(done.stdout.splitlines()[0])
    assert predicted == pytest.approx(list(model.predict(rows)))
    assert done.stdout.splitlines()[1] == "acme_ml.transformers"
    assert cloudpickle.loads(cloudpickle.dumps(model)).predict(rows) == pytest.approx(predicted)


def test_the_loaded_model_pickles_again_with_plain_pickle(mixed_frame, tmp_path: Path) -> None:
    """The model server hands the loaded model to its inference process with pickle."""
    model = fit(mixed_frame, ratio(name="x_per_count"))
    save_model(model, str(tmp_path / "model.pkl"))
    script = (
        "import pickle, joblib\n"
        f"model = joblib.load({str(tmp_path / 'model.pkl')!r})\n"
        "again = pickle.loads(pickle.dumps(model))\n"
        "print(type(again.named_steps['custom_0'].transformer_).__name__)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "RatioFeature"
