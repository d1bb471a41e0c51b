"""The training pipeline: ingest -> features -> validate -> train -> evaluate -> register -> promote.

The same function is compiled to KFP IR for a cluster and run by the local runner; only
the images and the Kubernetes task settings differ, and the local runner ignores both.
"""

from collections.abc import Callable
from typing import NamedTuple

from kfp import dsl

from components.evaluate import component as evaluate_c
from components.features import component as features_c
from components.ingest import component as ingest_c
from components.promote import component as promote_c
from components.register import component as register_c
from components.train import component as train_c
from components.tune import component as tune_c
from components.validate import component as validate_c
from kfops.registry.champion import GateDecision

PIPELINE_NAME = "kfops-training"


class TrainingOutputs(NamedTuple):
    run_id: str
    decision: str


ImageFor = Callable[[str], str]
TaskSettings = Callable[[dsl.PipelineTask, str], None]


def _no_settings(task: dsl.PipelineTask, component: str) -> None:
    del task, component


def build_training_pipeline(
    image_for: ImageFor,
    task_settings: TaskSettings = _no_settings,
    with_tuning: bool = False,
):
    """Return the pipeline function with components built for the given images.

    ``with_tuning`` adds the tune step, whose best parameters flow into train. The graph
    is chosen when the pipeline is built (from the config's ``tuning:`` section) rather
    than by a ``dsl.If`` at run time: kfp.local cannot pick artifacts out of conditional
    branches (``dsl.OneOf``), and a run without tuning then pays for no extra step.
    """
    tune = tune_c.build(image_for("tune"))
    ingest = ingest_c.build(image_for("ingest"))
    features = features_c.build(image_for("features"))
    validate = validate_c.build(image_for("validate"))
    train = train_c.build(image_for("train"))
    evaluate = evaluate_c.build(image_for("evaluate"))
    register = register_c.build(image_for("register"))
    promote = promote_c.build(image_for("promote"))

    def named(task: dsl.PipelineTask, component: str) -> dsl.PipelineTask:
        task.set_display_name(component)
        task_settings(task, component)
        return task

    @dsl.pipeline(
        name=PIPELINE_NAME,
        description="Validate a dataset, train and evaluate a model, register it, gate on the champion.",
    )
    def training_pipeline(
        config: dict, data_config: dict, data_fingerprint: str = ""
    ) -> TrainingOutputs:
        ingested = named(ingest(config=data_config, data_fingerprint=data_fingerprint), "ingest")
        # Always runs: without a features section it only passes the splits through (no
        # Feast import). kfp.local cannot select artifacts from dsl.If branches (OneOf).
        joined = named(
            features(
                config=data_config,
                train=ingested.outputs["train"],
                test=ingested.outputs["test"],
            ),
            "features",
        )
        checked = named(
            validate(
                config=data_config,
                train=joined.outputs["train_set"],
                test=joined.outputs["test_set"],
            ),
            "validate",
        )
        best_params: dict | dsl.PipelineParameterChannel = {}
        if with_tuning:
            tuned = named(
                tune(
                    config=config,
                    summary=ingested.outputs["Output"],
                    train=joined.outputs["train_set"],
                    pipeline_run=dsl.PIPELINE_JOB_NAME_PLACEHOLDER,
                ),
                "tune",
            )
            tuned.after(checked)
            best_params = tuned.outputs["best_params"]
        trained = named(
            train(
                config=config,
                summary=ingested.outputs["Output"],
                train=joined.outputs["train_set"],
                statistics=checked.outputs["report"],
                pipeline_run=dsl.PIPELINE_JOB_NAME_PLACEHOLDER,
                params_override=best_params,
            ),
            "train",
        )
        evaluated = named(
            evaluate(
                config=config,
                summary=ingested.outputs["Output"],
                run_id=trained.outputs["run_id"],
                model=trained.outputs["model"],
                test=joined.outputs["test_set"],
            ),
            "evaluate",
        )
        registered = named(
            register(
                config=config,
                run_id=trained.outputs["run_id"],
                model_uri=trained.outputs["model_uri"],
                metric=evaluated.outputs["metric"],
                score=evaluated.outputs["score"],
            ),
            "register",
        )
        with dsl.If(registered.output == GateDecision.PROMOTE.value, name="beats-champion"):
            named(promote(config=config, run_id=trained.outputs["run_id"]), "promote")
        return TrainingOutputs(run_id=trained.outputs["run_id"], decision=registered.output)

    return training_pipeline
