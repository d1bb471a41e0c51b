"""Train step: fit the configured estimator and track the run in MLflow."""

from __future__ import annotations

import os
from importlib.metadata import version
from typing import Any

from kfops import __version__
from kfops.config import TaskType, config_from_dict
from kfops.registry.tracking import git_commit, use_config_tracking
from kfops.steps.reporting import progress
from kfops.steps.results import TrainResult

MODEL_ARTIFACT = "model"
STATISTICS_ARTIFACT = "statistics"


def _pip_requirements() -> list[str]:
    # Pinning here keeps log_model from resolving the environment (11 s -> 3 s, DESIGN.md).
    return [
        f"{name}=={version(name)}" for name in ("scikit-learn", "pandas", "numpy", "cloudpickle")
    ]


def dataset_tags(summary: dict[str, Any]) -> dict[str, str]:
    rows = summary.get("rows", "")  # a KFP struct turns 300 into 300.0
    return {
        "kfops.dataset.digest": str(summary.get("digest", "")),
        "kfops.dataset.rows": str(int(rows) if isinstance(rows, float) else rows),
        "kfops.dataset.schema_digest": str(summary.get("schema_digest", "")),
        "kfops.dataset.source": str(summary.get("source", "")),
        "kfops.dataset.revision": str(summary.get("revision", "")),
        "kfops.task": str(summary.get("task", "")),
    }


def run_train(
    config: dict[str, Any],
    summary: dict[str, Any],
    train_path: str,
    model_path: str,
    pipeline_run: str = "",
    statistics_dir: str = "",
    params_override: dict[str, Any] | None = None,
) -> TrainResult:
    """Fit, save the model for later steps, and log params, data and model to MLflow.

    The validation step's output (TFDV statistics of both splits, the schema used, the
    anomalies report) goes with the run under ``statistics/``, so every model version
    keeps the statistics of the data it was trained on, for skew and drift checks.
    """
    import mlflow
    import pandas as pd
    from mlflow.models import infer_signature

    from kfops.registry.dataset_source import dataset_source
    from kfops.training.estimator import save_model, train_model

    if params_override:
        # Tuned values win over model.params; merged before parsing so that KFP's
        # float-for-int numbers are restored like the rest of the config.
        model = dict(config.get("model", {}))
        model["params"] = {**model.get("params", {}), **params_override}
        config = {**config, "model": model}
    cfg = config_from_dict(config)
    task = TaskType(summary["task"])
    frame = pd.read_parquet(train_path)
    progress(
        "train",
        f"fitting {cfg.model.estimator_for(task)} on {len(frame):,} rows, "
        f"{frame.shape[1] - 1} columns",
    )
    model = train_model(frame, cfg.data, cfg.model, task, code_root=cfg.base_dir)
    os.makedirs(os.path.dirname(model_path) or ".", exist_ok=True)
    save_model(model, model_path)

    progress("train", "logging the run, its dataset and the model to MLflow")
    experiment_id = use_config_tracking(cfg)
    features = frame.drop(columns=[cfg.data.target])
    sample = features.head(5)
    tags = {
        **dataset_tags(summary),
        "kfops.version": __version__,
        "kfops.estimator": cfg.model.estimator_for(task),
        "kfops.pipeline_run": pipeline_run,
    }
    commit = git_commit(cfg.base_dir)
    if commit:
        tags["mlflow.source.git.commit"] = commit
    with mlflow.start_run(experiment_id=experiment_id, tags=tags) as run:
        mlflow.log_params({"estimator": cfg.model.estimator_for(task), **cfg.model.params})
        dataset = mlflow.data.from_pandas(
            frame,
            source=dataset_source(
                str(summary.get("source", train_path)), str(summary.get("revision", ""))
            ),
            targets=cfg.data.target,
            name=f"{cfg.project}-train",
            digest=str(summary.get("digest", ""))[:36] or None,
        )
        mlflow.log_input(dataset, context="training")
        if statistics_dir and os.path.isdir(statistics_dir) and os.listdir(statistics_dir):
            mlflow.log_artifacts(statistics_dir, artifact_path=STATISTICS_ARTIFACT)
        info = mlflow.sklearn.log_model(
            model,
            name=MODEL_ARTIFACT,
            serialization_format="cloudpickle",
            signature=infer_signature(sample, model.predict(sample)),
            pip_requirements=_pip_requirements(),
        )
    return TrainResult(run_id=run.info.run_id, model_uri=info.model_uri)
