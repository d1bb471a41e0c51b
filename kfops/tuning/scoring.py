"""One objective metric of a fitted pipeline on a validation fold.

The definitions follow ``kfops.training.evaluate`` so that a tuned score and the evaluate
step's score mean the same thing: binary averages take the second of ``model.classes_``
as the positive class, multiclass ones are macro averages, and multiclass ROC AUC is
one-vs-rest, macro.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn import metrics as skm

from kfops.errors import TrainingError, one_line

REGRESSION = {
    "rmse": skm.root_mean_squared_error,
    "mae": skm.mean_absolute_error,
    "r2": skm.r2_score,
}
LABELS = {
    "accuracy": skm.accuracy_score,
    "balanced_accuracy": skm.balanced_accuracy_score,
    "precision": skm.precision_score,
    "recall": skm.recall_score,
    "f1": skm.f1_score,
}
AVERAGED = ("precision", "recall", "f1")
SCORE_BASED = ("roc_auc", "log_loss")
METRICS = (*REGRESSION, *LABELS, *SCORE_BASED)


def _class_scores(model: Any, x: pd.DataFrame, binary: bool) -> np.ndarray | None:
    if hasattr(model, "predict_proba"):
        return np.asarray(model.predict_proba(x))
    if binary and hasattr(model, "decision_function"):
        return np.asarray(model.decision_function(x))
    return None


def score(model: Any, x: pd.DataFrame, y: pd.Series, metric: str) -> float:
    """``metric`` of ``model`` on ``(x, y)``.

    Raises:
        TrainingError: the metric is undefined here (one class in the fold, no scores).
    """
    try:
        return float(_score(model, x, y, metric))
    except ValueError as exc:
        detail = one_line(exc)
        raise TrainingError(
            f"tuning.objective.metric: {metric} is undefined on a fold of {len(y)} rows "
            f"({detail}); use fewer tuning.cv_folds or another metric"
        ) from exc


def _score(model: Any, x: pd.DataFrame, y: pd.Series, metric: str) -> float:
    if metric in REGRESSION:
        predicted = np.asarray(model.predict(x), dtype=float)
        return REGRESSION[metric](y.to_numpy(dtype=float), predicted)
    classes = list(model.classes_)
    binary = len(classes) == 2
    if metric in LABELS:
        options: dict[str, Any] = {}
        if metric in AVERAGED:
            options = {"zero_division": 0}
            options.update(
                {"average": "binary", "pos_label": classes[1]} if binary else {"average": "macro"}
            )
        return LABELS[metric](y, model.predict(x), **options)
    scores = _class_scores(model, x, binary)
    if scores is None or (metric == "log_loss" and scores.ndim != 2):
        raise TrainingError(
            f"tuning.objective.metric: {metric} needs class probabilities, which "
            f"{type(model).__name__} does not give; use accuracy or f1"
        )
    if metric == "log_loss":
        return skm.log_loss(y, scores, labels=classes)
    if binary:
        column = scores[:, 1] if scores.ndim == 2 else scores
        return skm.roc_auc_score(np.asarray(y == classes[1]), column)
    return skm.roc_auc_score(y, scores, multi_class="ovr", average="macro", labels=classes)
