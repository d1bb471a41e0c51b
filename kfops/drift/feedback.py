"""Concept drift: the served predictions scored against labels that arrived later.

A feedback file (CSV or Parquet) has one row per labelled input: ``request_id`` (the id
the client sent, ``x-request-id`` in V1 or ``id`` in V2, as the server logged it),
``label``, and ``row`` (the input's position within its request, from 0; may be left
out when every request has one row). Joined with the logged predictions of the window,
it gives the live value of the model's promotion metric per served version, compared with
the score the version was registered with.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kfops.errors import DataError, one_line
from kfops.metrics import Direction, direction_of

REQUEST_ID, LABEL, ROW = "request_id", "label", "row"
PROBA_PREFIX = "proba."  # the server's probability column of a class (inference_log.to_rows)


@dataclass(frozen=True)
class LiveMetric:
    version: str
    metric: str
    value: float
    registered: float
    rows: int
    max_drop: float

    @property
    def drop(self) -> float:
        """How much worse than registered (positive = worse), whichever way the metric points."""
        worse = self.registered - self.value
        return worse if direction_of(self.metric) is Direction.MAXIMIZE else -worse

    @property
    def degraded(self) -> bool:
        return self.drop > self.max_drop

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "metric": self.metric,
            "value": self.value,
            "registered": None if math.isnan(self.registered) else self.registered,
            "drop": None if math.isnan(self.drop) else self.drop,
            "max_drop": self.max_drop,
            "rows": self.rows,
            "degraded": self.degraded,
        }


def read_feedback(path: Path) -> Any:
    """The labels; one line naming the file and the fix when it cannot be used."""
    import pandas as pd

    if not path.is_file():
        raise DataError(f"feedback file {path} does not exist; pass the labels' CSV or Parquet")
    try:
        frame = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    except Exception as exc:
        raise DataError(f"feedback file {path} is not readable ({one_line(exc)})") from exc
    missing = [c for c in (REQUEST_ID, LABEL) if c not in frame.columns]
    if missing:
        raise DataError(
            f"feedback file {path} has no column {', '.join(repr(c) for c in missing)}; it needs "
            f"'{REQUEST_ID}' and '{LABEL}' (and '{ROW}' for requests of several rows)"
        )
    frame = frame.dropna(subset=[REQUEST_ID, LABEL]).copy()
    frame[REQUEST_ID] = frame[REQUEST_ID].astype(str)
    frame[ROW] = frame[ROW].astype(int) if ROW in frame.columns else 0
    return frame[[REQUEST_ID, ROW, LABEL]]


def _positive_scores(rows: Any) -> Any | None:
    """The probability of the greater of two classes (sklearn's positive class), if logged."""
    classes = sorted(
        c.removeprefix(PROBA_PREFIX) for c in rows.columns if c.startswith(PROBA_PREFIX)
    )
    return rows[PROBA_PREFIX + classes[-1]] if len(classes) == 2 else None


def score(metric: str, rows: Any) -> float | None:
    """The metric of joined rows (``label``, ``prediction``, ``proba.*``); None when it cannot
    be computed from what was logged (roc_auc without probabilities or with one class)."""
    from sklearn import metrics

    truth, predicted = rows[LABEL], rows["prediction"]
    if metric in ("rmse", "mae", "r2"):
        truth, predicted = truth.astype(float), predicted.astype(float)
        return float(
            {
                "rmse": metrics.root_mean_squared_error,
                "mae": metrics.mean_absolute_error,
                "r2": metrics.r2_score,
            }[metric](truth, predicted)
        )
    truth, predicted = truth.astype(str), predicted.astype(str)
    if metric == "roc_auc":
        scores = _positive_scores(rows)
        if scores is None or truth.nunique() < 2:
            return None
        positive = sorted(
            c.removeprefix(PROBA_PREFIX) for c in rows.columns if c.startswith(PROBA_PREFIX)
        )[-1]
        return float(metrics.roc_auc_score(truth == positive, scores))
    scorers = {
        "accuracy": metrics.accuracy_score,
        "balanced_accuracy": metrics.balanced_accuracy_score,
    }
    if metric in scorers:
        return float(scorers[metric](truth, predicted))
    return None


def join_feedback(rows: Any, feedback: Any) -> Any:
    """Logged rows with their label: on the request id and the row's place in its request."""
    logged = rows.copy()
    logged[REQUEST_ID] = logged[REQUEST_ID].astype(str)
    logged[ROW] = logged.groupby(REQUEST_ID).cumcount()
    return logged.merge(feedback, on=[REQUEST_ID, ROW], how="inner")


def live_metrics(
    rows: Any,
    feedback: Any,
    metric: str,
    registered: Callable[[str, str], float],
    max_drop: float,
) -> list[LiveMetric]:
    """The metric per served version over the labelled rows of the window.

    ``registered(version, metric)`` is the score the version was registered with; a metric
    the logged columns cannot give (roc_auc without probabilities) falls back to accuracy.
    """
    joined = join_feedback(rows, feedback)
    measured = []
    for version, group in sorted(joined.groupby("model_version"), key=lambda kv: str(kv[0])):
        name, value = metric, score(metric, group)
        if value is None and metric not in ("rmse", "mae", "r2"):
            name, value = "accuracy", score("accuracy", group)
        if value is None:
            continue
        measured.append(
            LiveMetric(
                str(version), name, value, registered(str(version), name), len(group), max_drop
            )
        )
    return measured
