"""Metrics, KFP curves and PNG charts of a fitted pipeline on its test split."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kfops.config import DataConfig, ModelConfig, TaskType
from kfops.errors import DataError
from kfops.metrics import METRIC_DIRECTIONS
from kfops.training.estimator import train_model
from kfops.training.evaluate import MAX_ROC_POINTS, EvaluationResult, downsample_roc, evaluate_model

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
CLASSIFICATION_METRICS = {
    "accuracy", "balanced_accuracy", "precision", "recall", "f1", "roc_auc", "log_loss"
}  # fmt: skip


def assert_png(path: str) -> None:
    data = Path(path).read_bytes()
    assert data[:8] == PNG_MAGIC, path
    assert len(data) > 5_000, f"{path} is only {len(data)} bytes"


@pytest.fixture(scope="module")
def churn_eval(churn_model, churn_splits, churn_cfg, tmp_path_factory) -> EvaluationResult:
    out = tmp_path_factory.mktemp("churn-eval")
    return evaluate_model(
        churn_model, churn_splits[1], churn_cfg.data, TaskType.CLASSIFICATION, str(out)
    )


# binary classification: the bundled churn example ---------------------------------------


def test_churn_model_beats_trivial_baselines(churn_eval: EvaluationResult, churn_splits) -> None:
    majority_rate = 1 - churn_splits[1]["churned"].mean()
    assert set(churn_eval.metrics) == CLASSIFICATION_METRICS
    assert churn_eval.metrics["roc_auc"] > 0.75
    assert churn_eval.metrics["accuracy"] > majority_rate
    assert churn_eval.metrics["balanced_accuracy"] > 0.6
    assert churn_eval.metrics["log_loss"] < 0.56  # predicting the base rate scores about 0.56


def test_churn_confusion_matrix_and_roc_are_kfp_ready(
    churn_eval: EvaluationResult, churn_splits
) -> None:
    matrix = np.array(churn_eval.confusion_matrix)
    assert churn_eval.labels == ["0", "1"]
    assert matrix.shape == (2, 2) and matrix.sum() == len(churn_splits[1])
    assert matrix[1].sum() == churn_splits[1]["churned"].sum()
    roc = np.array(churn_eval.roc)
    assert 2 < len(roc) <= MAX_ROC_POINTS
    assert tuple(roc[0, :2]) == (0.0, 0.0) and tuple(roc[-1, :2]) == (1.0, 1.0)
    assert (np.diff(roc[:, 0]) >= 0).all() and (np.diff(roc[:, 2]) <= 0).all()
    json.dumps([churn_eval.metrics, churn_eval.roc, churn_eval.confusion_matrix], allow_nan=False)


def test_churn_plots_are_pngs_and_importance_uses_raw_columns(
    churn_eval: EvaluationResult,
) -> None:
    assert set(churn_eval.plots) == {"confusion_matrix", "roc_curve", "feature_importance"}
    for name, path in churn_eval.plots.items():
        assert Path(path).name == f"{name}.png"
        assert_png(path)
    importance = churn_eval.feature_importance
    assert "contract" in importance and "contract_month-to-month" not in importance
    assert "customer_id" not in importance and "event_timestamp" not in importance
    top3 = sorted(importance, key=importance.get, reverse=True)[:3]
    assert "contract" in top3


# multiclass, single-class test splits, scores without probabilities ----------------------


def three_classes(rows: int = 300) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    x = rng.normal(size=rows)
    return pd.DataFrame(
        {
            "x": x,
            "noise": rng.normal(size=rows),
            "size": np.select([x < -0.5, x < 0.5], ["small", "medium"], "large"),
        }
    )


def fit_and_evaluate(
    df: pd.DataFrame, target: str, estimator: str, task: TaskType, out: Path, **params
) -> EvaluationResult:
    cfg = DataConfig(path="d.csv", target=target)
    model = train_model(df, cfg, ModelConfig(estimator=estimator, params=params), task)
    return evaluate_model(model, df, cfg, task, str(out))


def test_multiclass_metrics_are_macro_and_roc_points_are_binary_only(tmp_path: Path) -> None:
    result = fit_and_evaluate(
        three_classes(), "size", "sklearn.ensemble.RandomForestClassifier",
        TaskType.CLASSIFICATION, tmp_path, n_estimators=10, random_state=0,
    )  # fmt: skip
    assert result.labels == ["large", "medium", "small"]
    assert np.array(result.confusion_matrix).shape == (3, 3)
    assert set(result.metrics) == CLASSIFICATION_METRICS
    assert result.metrics["f1"] > 0.9 and result.metrics["roc_auc"] > 0.9
    assert result.roc == []
    assert_png(result.plots["roc_curve"])


@pytest.mark.filterwarnings("ignore:A single label was found")
def test_single_class_test_split_leaves_roc_auc_out(tmp_path: Path) -> None:
    train = three_classes().assign(big=lambda df: df["size"] == "large")
    cfg = DataConfig(path="d.csv", target="big", drop_columns=["size"])
    params = {"n_estimators": 10, "random_state": 0}
    model = train_model(train, cfg, ModelConfig(params=params), TaskType.CLASSIFICATION)
    test = train[train["big"]]
    result = evaluate_model(model, test, cfg, TaskType.CLASSIFICATION, str(tmp_path))
    assert "roc_auc" not in result.metrics and "roc_curve" not in result.plots
    assert result.roc == []
    assert result.metrics["accuracy"] > 0.9
    assert_png(result.plots["feature_importance"])


def test_classifier_without_probabilities_uses_its_decision_function(tmp_path: Path) -> None:
    df = three_classes().assign(big=lambda d: np.where(d["size"] == "large", "yes", "no"))
    df = df.drop(columns="size")
    result = fit_and_evaluate(df, "big", "sklearn.svm.LinearSVC", TaskType.CLASSIFICATION, tmp_path)
    assert result.metrics["roc_auc"] > 0.95
    assert "log_loss" not in result.metrics
    assert len(result.roc) > 2


# regression --------------------------------------------------------------------------------


def test_regression_metrics_and_plots(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    df = pd.DataFrame({"x": rng.uniform(0, 10, 300), "noise": rng.normal(size=300)})
    df["y"] = 5.0 * df["x"] + rng.normal(0, 1.0, 300)
    result = fit_and_evaluate(
        df, "y", "sklearn.linear_model.LinearRegression", TaskType.REGRESSION, tmp_path
    )
    assert set(result.metrics) == {"rmse", "mae", "r2"}
    assert set(result.metrics) <= set(METRIC_DIRECTIONS)
    assert 0.8 < result.metrics["rmse"] < 1.2  # the noise's standard deviation is 1.0
    assert result.metrics["mae"] <= result.metrics["rmse"]
    assert result.metrics["r2"] > 0.95
    assert result.confusion_matrix == [] and result.roc == []
    assert set(result.plots) == {"residuals", "feature_importance"}
    for path in result.plots.values():
        assert_png(path)
    assert result.feature_importance["x"] > 10 * abs(result.feature_importance["noise"])


# helpers and errors -------------------------------------------------------------------------


def test_downsample_roc_keeps_ends_and_replaces_infinity() -> None:
    fpr = np.linspace(0, 1, 1000)
    thresholds = np.concatenate([[np.inf], np.linspace(0.99, 0.0, 999)])
    points = downsample_roc(fpr, fpr, thresholds)
    assert len(points) == MAX_ROC_POINTS
    assert points[0][:2] == (0.0, 0.0) and points[-1][:2] == (1.0, 1.0)
    assert 0.99 < points[0][2] < 1.0 and np.isfinite([p[2] for p in points]).all()
    assert len(downsample_roc(fpr[:5], fpr[:5], thresholds[:5])) == 5


def test_test_split_without_a_model_column_is_a_data_error(churn_model, churn_splits, churn_cfg):
    test = churn_splits[1].drop(columns="contract")
    with pytest.raises(DataError, match=r"test split lacks column\(s\) contract"):
        evaluate_model(churn_model, test_df=test, data_cfg=churn_cfg.data,
                       task=TaskType.CLASSIFICATION, out_dir="unused")  # fmt: skip
