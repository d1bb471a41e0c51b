"""train: fit the configured scikit-learn pipeline; the run is tracked in MLflow."""

from typing import NamedTuple

from kfp.dsl import Artifact, Dataset, Input, Model, Output

from components import make_component


def train(
    config: dict,
    summary: dict,
    train: Input[Dataset],
    statistics: Input[Artifact],
    model: Output[Model],
    pipeline_run: str = "",
    params_override: dict = {},  # noqa: B006 - KFP reads the default from the signature
) -> NamedTuple("TrainOutputs", run_id=str, model_uri=str):
    from collections import namedtuple

    from kfops.steps.reporting import reported
    from kfops.steps.train import run_train

    with reported("train"):
        result = run_train(
            config,
            summary,
            train.path,
            model.path,
            pipeline_run,
            statistics_dir=statistics.path,
            params_override=params_override,
        )
    model.metadata.update({"mlflow_run_id": result.run_id, "mlflow_model_uri": result.model_uri})
    return namedtuple("TrainOutputs", ["run_id", "model_uri"])(result.run_id, result.model_uri)


def build(image: str):
    return make_component(train, image)
