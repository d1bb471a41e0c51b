"""MLflow records of a tuning run: one parent run, one child run per trial.

The parent holds the spec (algorithm, budget, search space) and the outcome (best value,
best parameters, the trial table); each child holds one trial's parameters, its
objective value, the running CV mean per fold as steps, and its Katib state. Only the
process that drives tuning writes, one trial at a time, so a sqlite store is safe.
"""

from __future__ import annotations

import json
from types import TracebackType
from typing import Any

from kfops.config import KfopsConfig
from kfops.registry.tracking import use_config_tracking
from kfops.tuning.results import TrialRecord, TuningResult
from kfops.tuning.spec import require_tuning

STAGE_TAG = "kfops.stage"
STATE_TAG = "kfops.trial.state"


class TuningTracker:
    def __init__(self, cfg: KfopsConfig, metric: str, backend: str, tags: dict[str, str]) -> None:
        self.cfg = cfg
        self.metric = metric
        self.backend = backend
        self.tags = tags
        self.run_id = ""
        self.experiment_id = ""
        self._active: Any = None

    def __enter__(self) -> TuningTracker:
        import mlflow

        cfg, tuning = self.cfg, require_tuning(self.cfg)
        self.experiment_id = experiment_id = use_config_tracking(cfg)
        tags = {**self.tags, STAGE_TAG: "tuning", "kfops.tuning.backend": self.backend}
        self._active = mlflow.start_run(
            experiment_id=experiment_id, run_name=f"{cfg.project}-tuning", tags=tags
        )
        self.run_id = self._active.info.run_id
        mlflow.log_params(
            {
                "objective": self.metric,
                "algorithm": tuning.algorithm.name.value,
                "parallel_trial_count": tuning.parallel_trial_count,
                "max_trial_count": tuning.max_trial_count,
                "max_failed_trial_count": tuning.max_failed_trial_count,
                "cv_folds": tuning.cv_folds,
                "early_stopping": tuning.early_stopping.name if tuning.early_stopping else "none",
            }
        )
        spec = tuning.model_dump(mode="json", exclude_none=True)
        mlflow.log_dict(spec, "tuning/spec.json")
        return self

    def log_trial(self, record: TrialRecord) -> None:
        import mlflow

        tags = {STAGE_TAG: "tuning-trial", STATE_TAG: record.state.value}
        if record.error:
            tags["kfops.trial.error"] = record.error[:4000]
        with mlflow.start_run(
            experiment_id=self.experiment_id, run_name=record.name, nested=True, tags=tags
        ):
            mlflow.log_params(record.assignments)
            if record.value is not None:
                mlflow.log_metric(self.metric, record.value)
            for step, value in enumerate(record.intermediate):
                mlflow.log_metric(f"{self.metric}_running_cv_mean", value, step=step)
            if record.seconds is not None:
                mlflow.log_metric("trial_seconds", record.seconds)

    def log_result(self, result: TuningResult, table_path: str) -> None:
        import mlflow

        mlflow.log_metric(f"best_{result.metric}", result.best_value)
        mlflow.log_metric("trials", len(result.trials))
        mlflow.log_params({f"best.{k}": json.dumps(v) for k, v in result.best_params.items()})
        mlflow.set_tag("kfops.tuning.best_trial", result.best_trial)
        mlflow.log_artifact(table_path, "tuning")

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._active is not None:
            self._active.__exit__(exc_type, exc, tb)
