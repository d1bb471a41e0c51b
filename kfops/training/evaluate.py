"""Score a fitted pipeline on the held-out split: metrics, charts and KFP-ready curves.

Metric names come from ``kfops.metrics`` so the champion gate reads exactly what is
computed here. A metric that the test split cannot define (ROC AUC when only one class
is present) is left out rather than reported as NaN, which JSON and MLflow handle badly.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn import metrics as skm
from sklearn.inspection import permutation_importance
from sklearn.pipeline import Pipeline

from kfops.config import DataConfig, TaskType
from kfops.errors import DataError
from kfops.metrics import METRIC_DIRECTIONS
from kfops.training import plots

log = logging.getLogger(__name__)

PLOT_FILES = {
    "confusion_matrix": "confusion_matrix.png",
    "roc_curve": "roc_curve.png",
    "feature_importance": "feature_importance.png",
    "residuals": "residuals.png",
}
MAX_ROC_POINTS = 200  # KFP's ROC visualization stays light with a few hundred points
MAX_ROC_CLASSES = 10  # one-vs-rest curves drawn for multiclass targets
IMPORTANCE_ROWS = 1000  # permutation importance costs n_features * n_repeats predictions
IMPORTANCE_REPEATS = 3
SEED = 0


@dataclass
class EvaluationResult:
    """Everything the evaluate step logs: MLflow metrics and artifacts, KFP metrics."""

    task: TaskType
    metrics: dict[str, float]
    plots: dict[str, str] = field(default_factory=dict)
    confusion_matrix: list[list[int]] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    roc: list[tuple[float, float, float]] = field(default_factory=list)
    feature_importance: dict[str, float] = field(default_factory=dict)


def downsample_roc(
    fpr: np.ndarray, tpr: np.ndarray, thresholds: np.ndarray
) -> list[tuple[float, float, float]]:
    """At most MAX_ROC_POINTS (fpr, tpr, threshold) triples, first and last points kept.

    scikit-learn's first threshold is +inf ("predict nothing positive"); JSON has no
    infinity, so it becomes the next float above the highest score, which means the same.
    """
    thresholds = np.asarray(thresholds, dtype=float).copy()
    finite = thresholds[np.isfinite(thresholds)]
    top = float(finite.max()) if finite.size else 1.0
    thresholds[np.isposinf(thresholds)] = np.nextafter(top, np.inf)
    keep = np.unique(np.linspace(0, len(fpr) - 1, min(len(fpr), MAX_ROC_POINTS)).round())
    return [(float(fpr[i]), float(tpr[i]), float(thresholds[i])) for i in keep.astype(int)]


def _scores(model: Pipeline, features: pd.DataFrame, binary: bool) -> np.ndarray | None:
    """Class probabilities, or for a binary model without them its decision function."""
    if hasattr(model, "predict_proba"):
        return model.predict_proba(features)
    if binary and hasattr(model, "decision_function"):
        return np.asarray(model.decision_function(features))
    return None


def _classification(model: Pipeline, x: pd.DataFrame, y: pd.Series, out: Path) -> EvaluationResult:
    classes = list(model.classes_)
    binary = len(classes) == 2
    predicted = model.predict(x)
    scores = _scores(model, x, binary)
    average: dict[str, Any] = (
        {"average": "binary", "pos_label": classes[1]} if binary else {"average": "macro"}
    )
    result = EvaluationResult(
        task=TaskType.CLASSIFICATION,
        metrics={
            "accuracy": skm.accuracy_score(y, predicted),
            "balanced_accuracy": skm.balanced_accuracy_score(y, predicted),
            "precision": skm.precision_score(y, predicted, zero_division=0, **average),
            "recall": skm.recall_score(y, predicted, zero_division=0, **average),
            "f1": skm.f1_score(y, predicted, zero_division=0, **average),
        },
        confusion_matrix=skm.confusion_matrix(y, predicted, labels=classes).tolist(),
        labels=[str(label) for label in classes],
    )
    result.plots["confusion_matrix"] = plots.confusion_matrix_png(
        result.confusion_matrix, result.labels, out / PLOT_FILES["confusion_matrix"]
    )
    if scores is None:
        return result
    if scores.ndim == 2 and scores.shape[1] == len(classes):
        result.metrics["log_loss"] = skm.log_loss(y, scores, labels=classes)
    curves = []
    for label in classes[1:] if binary else classes[:MAX_ROC_CLASSES]:
        column = scores if scores.ndim == 1 else scores[:, classes.index(label)]
        is_label = np.asarray(y == label)
        if is_label.all() or not is_label.any():
            continue  # the curve needs both outcomes in the test split
        fpr, tpr, thresholds = skm.roc_curve(is_label, column)
        name = f"positive class {label}" if binary else f"{label} vs rest"
        curves.append((name, fpr, tpr, skm.auc(fpr, tpr)))
        if binary:
            result.metrics["roc_auc"] = curves[-1][3]
            result.roc = downsample_roc(fpr, tpr, thresholds)
    if not binary and scores.ndim == 2:
        try:
            result.metrics["roc_auc"] = skm.roc_auc_score(
                y, scores, multi_class="ovr", average="macro", labels=classes
            )
        except ValueError as exc:
            log.warning("roc_auc left out: %s", exc)
    if curves:
        result.plots["roc_curve"] = plots.roc_png(curves, out / PLOT_FILES["roc_curve"])
    return result


def _regression(
    model: Pipeline, x: pd.DataFrame, y: pd.Series, out: Path, target: str
) -> EvaluationResult:
    predicted = np.asarray(model.predict(x), dtype=float)
    actual = y.to_numpy(dtype=float)
    result = EvaluationResult(
        task=TaskType.REGRESSION,
        metrics={
            "rmse": skm.root_mean_squared_error(actual, predicted),
            "mae": skm.mean_absolute_error(actual, predicted),
            "r2": skm.r2_score(actual, predicted),
        },
    )
    path = out / PLOT_FILES["residuals"]
    result.plots["residuals"] = plots.residuals_png(actual, predicted, target, path)
    return result


def _importance_scoring(task: TaskType, y: pd.Series, model: Pipeline) -> tuple[str, str]:
    """(scikit-learn scorer, axis label): ROC AUC when defined, RMSE for regression.

    Balanced accuracy is the multiclass choice, so a rare class still counts; plain
    accuracy is left for a test split with a single class, where nothing else is defined.
    """
    if task is TaskType.REGRESSION:
        return "neg_root_mean_squared_error", "increase in RMSE when the feature is shuffled"
    if y.nunique() < 2:
        return "accuracy", "drop in accuracy when the feature is shuffled"
    if len(model.classes_) == 2 and hasattr(model, "predict_proba"):
        return "roc_auc", "drop in ROC AUC when the feature is shuffled"
    return "balanced_accuracy", "drop in balanced accuracy when the feature is shuffled"


def _feature_importance(
    model: Pipeline, x: pd.DataFrame, y: pd.Series, task: TaskType
) -> tuple[dict[str, tuple[float, float]], str]:
    """Permutation importance of each raw column, one-hot levels shuffled together."""
    if len(x) > IMPORTANCE_ROWS:
        x = x.sample(IMPORTANCE_ROWS, random_state=SEED)
        y = y.loc[x.index]
    scoring, label = _importance_scoring(task, y, model)
    found = permutation_importance(
        model, x, y, scoring=scoring, n_repeats=IMPORTANCE_REPEATS, random_state=SEED
    )
    pairs = zip(found.importances_mean, found.importances_std, strict=True)
    importance = {str(c): (float(m), float(s)) for c, (m, s) in zip(x.columns, pairs, strict=True)}
    return importance, label


def evaluate_model(
    model: Pipeline, test_df: pd.DataFrame, data_cfg: DataConfig, task: TaskType, out_dir: str
) -> EvaluationResult:
    """Metrics and PNG charts (written under ``out_dir``) of the model on the test split."""
    features = [str(name) for name in model.feature_names_in_]
    missing = [name for name in [*features, data_cfg.target] if name not in test_df.columns]
    if missing:
        raise DataError(
            f"test split lacks column(s) {', '.join(missing)} that the model was trained on; "
            "evaluate on a split written by the same ingest run"
        )
    x, y = test_df[features], test_df[data_cfg.target]
    out = Path(out_dir)
    if task is TaskType.CLASSIFICATION:
        result = _classification(model, x, y, out)
    else:
        result = _regression(model, x, y, out, data_cfg.target)
    result.metrics = {k: float(v) for k, v in result.metrics.items() if k in METRIC_DIRECTIONS}
    importance, label = _feature_importance(model, x, y, task)
    result.feature_importance = {name: mean for name, (mean, _) in importance.items()}
    path = out / PLOT_FILES["feature_importance"]
    result.plots["feature_importance"] = plots.importance_png(importance, label, path)
    return result
