"""The training pipeline: ingest -> features -> validate -> train -> evaluate -> register ->
promote (-> deploy).

The same function is compiled to KFP IR for a cluster and run by the local runner; only
the images and the Kubernetes task settings differ, and the local runner ignores both.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

from kfp import dsl

from components.deploy import component as deploy_c
from components.evaluate import component as evaluate_c
from components.features import component as features_c
from components.ingest import component as ingest_c
from components.promote import component as promote_c
from components.register import component as register_c
from components.train import component as train_c
from components.tune import component as tune_c
from components.validate import component as validate_c
from kfops.config import KfopsConfig, StepPoint
from kfops.registry.champion import GateDecision
from pipelines.user_steps import (
    NO_USER_STEPS,
    UserSteps,
    add_frame_steps,
    add_model_steps,
    build_user_steps,
    carry_model_code,
)

PIPELINE_NAME = "kfops-training"


class TrainingOutputs(NamedTuple):
    run_id: str
    decision: str


ImageFor = Callable[[str], str]
TaskSettings = Callable[[dsl.PipelineTask, str], None]


def _no_settings(task: dsl.PipelineTask, component: str) -> None:
    del task, component


def graph_options(cfg: KfopsConfig) -> dict[str, bool]:
    """The :func:`build_training_pipeline` switches a config asks for: a tune step with a
    ``tuning:`` section, a deploy step with a ``serving:`` section."""
    return {"with_tuning": cfg.tuning is not None, "with_deploy": cfg.serving is not None}


VARIANTS: dict[str, dict[str, bool]] = {
    "training": {},
    "training-tuned": {"with_tuning": True},
    "training-deploy": {"with_deploy": True},
    "training-tuned-deploy": {"with_tuning": True, "with_deploy": True},
}
"""Every graph :func:`build_training_pipeline` builds, by the name its compiled file has."""


def variant_for(cfg: KfopsConfig) -> str:
    """The name in :data:`VARIANTS` of the graph a config runs."""
    wanted = {key: value for key, value in graph_options(cfg).items() if value}
    return next(name for name, options in VARIANTS.items() if options == wanted)


@dataclass(frozen=True)
class TrainingSteps:
    """The components of the train-and-gate graph, built for their images."""

    ingest: Callable
    features: Callable
    validate: Callable
    tune: Callable | None
    train: Callable
    evaluate: Callable
    register: Callable
    promote: Callable
    deploy: Callable | None
    user: tuple = ()
    code: UserSteps = NO_USER_STEPS

    @classmethod
    def build(
        cls,
        image_for: ImageFor,
        with_tuning: bool,
        with_deploy: bool,
        user_steps: UserSteps = NO_USER_STEPS,
    ) -> "TrainingSteps":
        return cls(
            ingest=ingest_c.build(image_for("ingest")),
            features=features_c.build(image_for("features")),
            validate=validate_c.build(image_for("validate")),
            tune=tune_c.build(image_for("tune")) if with_tuning else None,
            train=train_c.build(image_for("train")),
            evaluate=evaluate_c.build(image_for("evaluate")),
            register=register_c.build(image_for("register")),
            promote=promote_c.build(image_for("promote")),
            deploy=deploy_c.build(image_for("deploy")) if with_deploy else None,
            user=build_user_steps(user_steps, image_for),
            code=user_steps,
        )


def namer(task_settings: TaskSettings) -> Callable[[dsl.PipelineTask, str], dsl.PipelineTask]:
    def named(task: dsl.PipelineTask, component: str) -> dsl.PipelineTask:
        task.set_display_name(component)
        task_settings(task, component)
        return task

    return named


def train_and_gate(
    steps: TrainingSteps,
    named: Callable[[dsl.PipelineTask, str], dsl.PipelineTask],
    config: Any,
    data_config: Any,
    data_fingerprint: Any,
) -> tuple[dsl.PipelineTask, dsl.PipelineTask]:
    """Add ingest ... promote (-> deploy) to the pipeline being defined; (train, register).

    Shared by the training pipeline and the retraining pipeline, which runs it in the
    branch of a drifted window: one definition of what a run does.
    """
    ingested = named(steps.ingest(config=data_config, data_fingerprint=data_fingerprint), "ingest")
    train_split, test_split = add_frame_steps(
        steps.user,
        StepPoint.INGEST,
        named,
        config,
        ingested.outputs["train"],
        ingested.outputs["test"],
    )
    # Always runs: without a features section it only passes the splits through (no
    # Feast import). kfp.local cannot select artifacts from dsl.If branches (OneOf).
    joined = named(
        steps.features(config=data_config, train=train_split, test=test_split), "features"
    )
    train_set, test_set = add_frame_steps(
        steps.user,
        StepPoint.FEATURES,
        named,
        config,
        joined.outputs["train_set"],
        joined.outputs["test_set"],
    )
    checked = named(steps.validate(config=data_config, train=train_set, test=test_set), "validate")
    best_params: Any = {}
    if steps.tune is not None:
        tuned = named(
            steps.tune(
                config=config,
                summary=ingested.outputs["Output"],
                train=train_set,
                pipeline_run=dsl.PIPELINE_JOB_NAME_PLACEHOLDER,
            ),
            "tune",
        )
        tuned.after(checked)
        carry_model_code(tuned, steps.code)
        best_params = tuned.outputs["best_params"]
    trained = named(
        steps.train(
            config=config,
            summary=ingested.outputs["Output"],
            train=train_set,
            statistics=checked.outputs["report"],
            pipeline_run=dsl.PIPELINE_JOB_NAME_PLACEHOLDER,
            params_override=best_params,
        ),
        "train",
    )
    carry_model_code(trained, steps.code)
    evaluated = named(
        steps.evaluate(
            config=config,
            summary=ingested.outputs["Output"],
            run_id=trained.outputs["run_id"],
            model=trained.outputs["model"],
            test=test_set,
        ),
        "evaluate",
    )
    checks = add_model_steps(
        steps.user, named, config, trained.outputs["run_id"], trained.outputs["model"], test_set
    )
    for check in checks:
        check.after(evaluated)
    registered = named(
        steps.register(
            config=config,
            run_id=trained.outputs["run_id"],
            model_uri=trained.outputs["model_uri"],
            metric=evaluated.outputs["metric"],
            score=evaluated.outputs["score"],
        ),
        "register",
    )
    for check in checks:
        registered.after(check)
    with dsl.If(registered.output == GateDecision.PROMOTE.value, name="beats-champion"):
        promoted = named(steps.promote(config=config, run_id=trained.outputs["run_id"]), "promote")
        if steps.deploy is not None:
            deployed = named(steps.deploy(config=config, model_version=promoted.output), "deploy")
            # Its effect is in the cluster, not in its output: never a cache hit.
            deployed.set_caching_options(False)
    return trained, registered


def build_training_pipeline(
    image_for: ImageFor,
    task_settings: TaskSettings = _no_settings,
    with_tuning: bool = False,
    with_deploy: bool = False,
    user_steps: UserSteps = NO_USER_STEPS,
):
    """Return the pipeline function with components built for the given images.

    ``with_tuning`` adds the tune step, whose best parameters flow into train. The graph
    is chosen when the pipeline is built (from the config's ``tuning:`` section) rather
    than by a ``dsl.If`` at run time: kfp.local cannot pick artifacts out of conditional
    branches (``dsl.OneOf``), and a run without tuning then pays for no extra step.

    ``with_deploy`` (a ``serving:`` section) adds deploy after promote, in the branch of a
    version that won the gate: it serves the version, or creates or updates the
    ModelRollout towards it with ``rollout:``. It never runs for a version that lost.
    Outside a Kubernetes pod it sends nothing and says so.

    ``user_steps`` (``steps:``, :func:`pipelines.user_steps.user_steps_of`) adds the user's
    own steps after ingest, features or evaluate.
    """
    steps = TrainingSteps.build(image_for, with_tuning, with_deploy, user_steps)
    named = namer(task_settings)

    @dsl.pipeline(
        name=PIPELINE_NAME,
        description="Validate a dataset, train and evaluate a model, register it, gate on the champion.",
    )
    def training_pipeline(
        config: dict, data_config: dict, data_fingerprint: str = ""
    ) -> TrainingOutputs:
        trained, registered = train_and_gate(steps, named, config, data_config, data_fingerprint)
        return TrainingOutputs(run_id=trained.outputs["run_id"], decision=registered.output)

    return training_pipeline
