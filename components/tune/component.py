"""tune: search the tuning section's space (Katib in a cluster, optuna locally)."""

from typing import NamedTuple

from kfp.dsl import Dataset, Input, Markdown, Output

from components import make_component


def tune(
    config: dict,
    summary: dict,
    train: Input[Dataset],
    trials: Output[Markdown],
    pipeline_run: str = "",
) -> NamedTuple(
    "TuneOutputs", best_params=dict, objective=str, best_value=float, mlflow_run_id=str
):
    import shutil
    import tempfile
    from collections import namedtuple

    from kfops.steps.reporting import reported
    from kfops.steps.tune import run_tune

    with reported("tune"):
        result = run_tune(
            config,
            train.path,
            tempfile.mkdtemp(prefix="kfops-tune-"),
            task=str(summary.get("task", "")),
            train_uri=train.uri,
            pipeline_run=pipeline_run,
        )
    shutil.copyfile(result.trials_path, trials.path)
    trials.metadata.update(result.artifact_metadata())
    outputs = namedtuple("TuneOutputs", ["best_params", "objective", "best_value", "mlflow_run_id"])
    return outputs(result.best_params, result.objective, result.best_value, result.mlflow_run_id)


def build(image: str):
    return make_component(tune, image)
