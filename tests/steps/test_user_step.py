"""Running a user's ``steps:`` function on the splits, and its one-line failures."""

from __future__ import annotations

from pathlib import Path

import joblib
import pandas as pd
import pytest
from sklearn.dummy import DummyRegressor

from kfops.config import KfopsConfig
from kfops.errors import ConfigurationError, PipelineError
from kfops.steps.user_step import run_frame_step, run_model_step

PROJECT = Path(__file__).resolve().parents[1] / "user_project"


def config(*steps: dict) -> dict:
    cfg = KfopsConfig.model_validate(
        {
            "project": "acme",
            "data": {"path": "d.csv", "target": "y"},
            "steps": list(steps),
            "base_dir": str(PROJECT),
        }
    )
    return cfg.model_dump(mode="json")


DROP = {
    "name": "drop-outliers",
    "after": "features",
    "function": "acme_ml.steps.drop_outliers.drop_outliers",
    "params": {"column": "x", "upper": 5.0},
}


@pytest.fixture
def splits(tmp_path: Path) -> tuple[dict[str, str], dict[str, str]]:
    frame = pd.DataFrame({"x": [1.0, 9.0, 3.0, 7.0], "y": [1.0, 2.0, 3.0, 4.0]})
    inputs = {}
    for split in ("train", "test"):
        inputs[split] = str(tmp_path / f"{split}.parquet")
        frame.to_parquet(inputs[split])
    outputs = {split: str(tmp_path / "out" / split) for split in ("train", "test")}
    return inputs, outputs


def test_a_frame_step_hands_on_what_the_function_returns(splits) -> None:
    inputs, outputs = splits
    result = run_frame_step(config(DROP), "drop-outliers", inputs, outputs)
    assert result.rows == {"train": 2, "test": 4}, "told the split, it filters train only"
    assert pd.read_parquet(outputs["train"])["x"].tolist() == [1.0, 3.0]
    assert len(pd.read_parquet(outputs["test"])) == 4


@pytest.mark.parametrize(
    ("step", "error", "match"),
    [
        ({**DROP, "function": "acme_ml.stepz.drop"}, ConfigurationError,
         r"^steps\.drop-outliers\.function: cannot import module 'acme_ml\.stepz'"),
        ({**DROP, "params": {"column": "nope", "upper": 1}}, PipelineError,
         r"^steps\.drop-outliers: acme_ml\.steps\.drop_outliers\.drop_outliers raised KeyError: .*nope.*; "
         r"fix the step"),
        ({**DROP, "params": {"column": "x"}}, PipelineError,
         r"^steps\.drop-outliers: calling acme_ml\.steps\.drop_outliers\.drop_outliers failed \(.*upper.*\); "
         r"check its parameters"),
        ({**DROP, "function": "acme_ml.steps.prediction_mean.prediction_mean", "params": {}},
         PipelineError,
         r"^steps\.drop-outliers: calling acme_ml\.steps\.prediction_mean\.prediction_mean failed"),
        ({**DROP, "params": {"column": "x", "upper": -1.0}}, PipelineError,
         r"^steps\.drop-outliers: acme_ml\.steps\.drop_outliers\.drop_outliers left no rows in the train "
         r"split"),
    ],
)  # fmt: skip
def test_a_failing_step_is_one_line_naming_it(splits, step, error, match) -> None:
    inputs, outputs = splits
    with pytest.raises(error, match=match) as caught:
        run_frame_step(config(step), "drop-outliers", inputs, outputs)
    assert "\n" not in caught.value.message


def test_a_step_must_return_a_dataframe(splits, tmp_path: Path) -> None:
    inputs, outputs = splits
    step = {**DROP, "function": "builtins.len", "params": {}}
    with pytest.raises(PipelineError, match=r"^steps\.drop-outliers: builtins\.len returned int"):
        run_frame_step(config(step), "drop-outliers", inputs, outputs)


def test_an_after_evaluate_step_gets_the_model_and_returns_metrics(splits, tmp_path) -> None:
    inputs, _ = splits
    frame = pd.read_parquet(inputs["test"])
    model = DummyRegressor().fit(frame[["x"]], frame["y"])
    joblib.dump(model, tmp_path / "model.pkl")
    step = {
        "name": "prediction-mean",
        "after": "evaluate",
        "function": "acme_ml.steps.prediction_mean.prediction_mean",
        "params": {"target": "y"},
    }
    result = run_model_step(config(step), "prediction-mean", str(tmp_path / "model.pkl"),
                            inputs["test"], run_id="")  # fmt: skip
    assert result.metrics == {"prediction_mean": pytest.approx(2.5)}


def test_step_names_must_not_take_a_built_in_name() -> None:
    with pytest.raises(ValueError, match="steps: the name 'train' is taken"):
        config({**DROP, "name": "train"})
