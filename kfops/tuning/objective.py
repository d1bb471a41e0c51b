"""A trial's score: the objective metric, cross-validated on the training split.

Each fold fits the train step's own pipeline (``kfops.training.estimator.train_model``)
with the trial's parameters merged over ``model.params``, so what is tuned is what is
trained. The folds are the same for every trial (seeded by ``data.split.seed``), which
keeps trials comparable. After each fold the running mean is reported: these are the
intermediate values that medianstop (Katib) and MedianPruner (optuna) compare. Worked
example with 3 folds scoring 0.80, 0.84, 0.83: reports 0.80, 0.82, 0.8233; the trial's
value is the last report.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import KFold, StratifiedKFold

from kfops.config import KfopsConfig, TaskType
from kfops.tuning.scoring import score

FoldReport = Callable[[int, float], bool]
"""Called after each fold with (step, running mean); returning True stops the trial."""


@dataclass(frozen=True)
class TrialScore:
    value: float
    intermediate: tuple[float, ...]
    pruned: bool = False


def make_folds(
    frame: pd.DataFrame, target: str, task: TaskType, k: int, seed: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """k (train, validation) row positions; stratified when every class has k rows."""
    y = frame[target]
    stratify = task is TaskType.CLASSIFICATION and int(y.value_counts().min()) >= k
    splitter = (StratifiedKFold if stratify else KFold)(n_splits=k, shuffle=True, random_state=seed)
    return list(splitter.split(frame, y if stratify else None))


def cross_validate(
    frame: pd.DataFrame,
    cfg: KfopsConfig,
    task: TaskType,
    metric: str,
    params: dict[str, Any],
    report: FoldReport | None = None,
) -> TrialScore:
    """Score ``params`` (merged over ``model.params``) over ``tuning.cv_folds`` folds."""
    from kfops.data.ingest import feature_columns
    from kfops.training.estimator import train_model

    assert cfg.tuning is not None
    # The very model training fits: the user's preprocessing (found in the project
    # folder, as train finds it) included, only the params changed.
    model_cfg = cfg.model.model_copy(update={"params": {**cfg.model.params, **params}})
    folds = make_folds(frame, cfg.data.target, task, cfg.tuning.cv_folds, cfg.data.split.seed)
    numeric, categorical = feature_columns(frame, cfg.data)
    running: list[float] = []
    scores: list[float] = []
    for step, (train_rows, valid_rows) in enumerate(folds):
        model = train_model(
            frame.iloc[train_rows], cfg.data, model_cfg, task, code_root=cfg.base_dir
        )
        valid = frame.iloc[valid_rows]
        scores.append(score(model, valid[numeric + categorical], valid[cfg.data.target], metric))
        running.append(float(np.mean(scores)))
        if report is not None and report(step, running[-1]) and step < len(folds) - 1:
            return TrialScore(running[-1], tuple(running), pruned=True)
    return TrialScore(running[-1], tuple(running))
