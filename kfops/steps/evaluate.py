"""Evaluate step: metrics and pictures on the held-out split, logged to the run."""

from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import Any

from kfops.config import TaskType, config_from_dict
from kfops.metrics import DEFAULT_PROMOTION_METRIC, direction_of
from kfops.registry.tracking import use_config_tracking
from kfops.steps.results import EvaluateResult


def promotion_metric(config_metric: str | None, task: TaskType) -> str:
    metric = config_metric or DEFAULT_PROMOTION_METRIC[task]
    direction_of(metric)  # unknown names fail here, before any model is registered
    return metric


def plots_html(title: str, metrics: dict[str, float], plots: dict[str, str]) -> str:
    """One self-contained page (PNG inlined) for the KFP UI's HTML viewer."""
    rows = "".join(
        f"<tr><td>{html.escape(k)}</td><td>{v:.4f}</td></tr>" for k, v in sorted(metrics.items())
    )
    images = "".join(
        f"<figure><img src='data:image/png;base64,"
        f"{base64.b64encode(Path(p).read_bytes()).decode()}' style='max-width:640px'/>"
        f"<figcaption>{html.escape(name)}</figcaption></figure>"
        for name, p in plots.items()
    )
    return (
        f"<html><head><meta charset='utf-8'><title>{html.escape(title)}</title></head><body>"
        f"<h2>{html.escape(title)}</h2><table border='1' cellpadding='4'>{rows}</table>"
        f"{images}</body></html>"
    )


def run_evaluate(
    config: dict[str, Any],
    summary: dict[str, Any],
    run_id: str,
    model_path: str,
    test_path: str,
    out_dir: str,
) -> EvaluateResult:
    import joblib
    import mlflow
    import pandas as pd

    from kfops.training.evaluate import evaluate_model

    cfg = config_from_dict(config)
    task = TaskType(summary["task"])
    metric = promotion_metric(cfg.registry.promotion_metric, task)
    model = joblib.load(model_path)
    frame = pd.read_parquet(test_path)
    result = evaluate_model(model, frame, cfg.data, task, out_dir)
    if metric not in result.metrics:
        from kfops.errors import ConfigurationError

        raise ConfigurationError(
            f"registry.promotion_metric: '{metric}' is not computed for {task} models; "
            f"use one of {', '.join(sorted(result.metrics))}"
        )
    use_config_tracking(cfg)
    with mlflow.start_run(run_id=run_id):
        mlflow.log_metrics(result.metrics)
        for path in result.plots.values():
            mlflow.log_artifact(path, artifact_path="plots")
    return EvaluateResult(
        metrics=result.metrics,
        promotion_metric=metric,
        score=float(result.metrics[metric]),
        plots=result.plots,
        confusion_matrix=result.confusion_matrix,
        labels=[str(label) for label in result.labels],
        roc=[tuple(float(v) for v in point) for point in result.roc],
    )
