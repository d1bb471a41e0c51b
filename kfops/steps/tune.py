"""Tune step: search the ``tuning:`` space, locally or with Katib, and track it in MLflow.

The backend comes from ``tuning.backend`` through the table of
:mod:`kfops.tuning.backends`: ``local`` is the embedded optuna tuner, ``katib`` creates a
Katib Experiment in the cluster, and ``auto`` (the default) means Katib when the step runs
inside a Kubernetes pod (KUBERNETES_SERVICE_HOST is set) and the embedded tuner elsewhere.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kfops import __version__
from kfops.config import TaskType, config_from_dict
from kfops.steps.results import TuneResult
from kfops.tuning.backends import TuningRequest, backend_for, resolve_backend

TRIALS_MARKDOWN = "trials.md"
TRIALS_JSON = "trials.json"


def _task(config_task: TaskType | None, task: str, train_path: str, target: str) -> TaskType:
    if task:
        return TaskType(task)
    if config_task is not None:
        return config_task
    import pandas as pd

    from kfops.data.ingest import infer_task

    return infer_task(pd.read_parquet(train_path, columns=[target])[target])


def _skipped(out: Path) -> TuneResult:
    """No tuning section: nothing to search, and ``best_params`` overrides nothing."""
    table = out / TRIALS_MARKDOWN
    table.write_text("# Tuning\n\nNo tuning section in the config; model.params are used as set.\n")
    rows = out / TRIALS_JSON
    rows.write_text("[]")
    return TuneResult(
        best_params={},
        objective="",
        direction="",
        best_value=0.0,
        best_trial="",
        backend="none",
        trials=0,
        succeeded=0,
        failed=0,
        early_stopped=0,
        stopped="",
        trials_path=str(table),
        trials_json=str(rows),
        mlflow_run_id="",
    )


def run_tune(
    config: dict[str, Any],
    train_path: str,
    out_dir: str,
    task: str = "",
    train_uri: str = "",
    pipeline_run: str = "",
) -> TuneResult:
    """Tune, write the trial table under ``out_dir``, and return the outcome.

    Without a ``tuning:`` section nothing runs and ``best_params`` is ``{}``, so a pipeline
    may run this step unconditionally and always merge its ``best_params``.

    Args:
        config: the pipeline's config dict (``config_to_dict``).
        train_path: the training split (Parquet) as this process sees it.
        out_dir: where ``trials.md`` and ``trials.json`` go (and the local tuner's journal).
        task: ``classification`` / ``regression``, as ingest decided; else from the config
            or the target column.
        train_uri: the split as Katib trial pods can read it (the KFP artifact URI); default
            ``train_path``.
        pipeline_run: the KFP run name; names the Katib Experiment and tags the MLflow run.

    Returns:
        The outcome; its ``best_params`` are merged over ``model.params`` by train.
    """
    from kfops.tuning.results import TrialState, trials_markdown, trials_rows
    from kfops.tuning.spec import check_tuning, objective_metric, require_tuning
    from kfops.tuning.tracking import TuningTracker

    cfg = config_from_dict(config)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if cfg.tuning is None:
        return _skipped(out)
    tuning = require_tuning(cfg)
    resolved = _task(cfg.data.task, task, train_path, cfg.data.target)
    check_tuning(cfg, resolved)
    backend = resolve_backend(tuning.backend)
    search = backend_for(backend)
    metric = objective_metric(cfg, resolved)
    tags = {
        "kfops.version": __version__,
        "kfops.pipeline_run": pipeline_run,
        "kfops.task": resolved,
    }
    with TuningTracker(cfg, metric, backend.value, tags) as tracker:
        result = search(
            TuningRequest(
                cfg=cfg,
                task=resolved,
                train_path=train_path,
                workdir=str(out),
                train_uri=train_uri or train_path,
                run_name=pipeline_run or tracker.run_id,
                on_trial=tracker.log_trial,
            )
        )
        table = out / TRIALS_MARKDOWN
        table.write_text(trials_markdown(result))
        rows = out / TRIALS_JSON
        rows.write_text(json.dumps(trials_rows(result), indent=1))
        tracker.log_result(result, str(table))
    return TuneResult(
        best_params=result.best_params,
        objective=result.metric,
        direction=result.direction.value,
        best_value=result.best_value,
        best_trial=result.best_trial,
        backend=result.backend,
        trials=len(result.trials),
        succeeded=result.count(TrialState.SUCCEEDED),
        failed=result.count(TrialState.FAILED),
        early_stopped=result.count(TrialState.EARLY_STOPPED),
        stopped=result.stopped,
        trials_path=str(table),
        trials_json=str(rows),
        mlflow_run_id=tracker.run_id,
    )
