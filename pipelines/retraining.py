"""The retraining pipeline: drift check, then, only for a drifted window (or when forced),
the training pipeline's own train-and-gate graph.

A new version that wins the gate becomes the challenger and, with ``serving:`` and
``rollout:``, the deploy step starts its canary against the champion; the rollout, not
this pipeline, decides whether it takes the traffic. When the window did not drift, the
drift step's report (its HTML and JSON outputs) records why nothing was needed.
"""

from kfp import dsl

from components.drift import component as drift_c
from pipelines.training import (
    ImageFor,
    TaskSettings,
    TrainingSteps,
    _no_settings,
    namer,
    train_and_gate,
)
from pipelines.user_steps import NO_USER_STEPS, UserSteps

PIPELINE_NAME = "kfops-retraining"


def build_retraining_pipeline(
    image_for: ImageFor,
    task_settings: TaskSettings = _no_settings,
    with_tuning: bool = False,
    with_deploy: bool = False,
    user_steps: UserSteps = NO_USER_STEPS,
):
    """Return the pipeline function; the switches and user steps are the training pipeline's."""
    steps = TrainingSteps.build(image_for, with_tuning, with_deploy, user_steps)
    drift = drift_c.build(image_for("drift"))
    named = namer(task_settings)

    @dsl.pipeline(
        name=PIPELINE_NAME,
        description="Check served traffic for drift; when it drifted, train, gate and start "
        "the new version's canary.",
    )
    def retraining_pipeline(
        config: dict,
        data_config: dict,
        data_fingerprint: str = "",
        since: str = "",
        force: bool = False,
    ) -> bool:
        checked = named(drift(config=config, since=since, force=force), "drift")
        # The log grows while the model serves: the same inputs never mean the same window.
        checked.set_caching_options(False)
        with dsl.If(checked.outputs["Output"] == True, name="drifted"):  # noqa: E712 (KFP)
            train_and_gate(steps, named, config, data_config, data_fingerprint)
        return checked.outputs["Output"]

    return retraining_pipeline
