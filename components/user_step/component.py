"""user steps: the ML engineer's own functions from ``steps:``, run inside the pipeline.

One definition serves every user step; the task's ``step`` names which. ``code_digest``
is the digest of the step's package source: an edit changes the task's inputs, so both
kfp.local's cache and KFP's miss, and the step and everything after it run again.
"""

from kfp.dsl import Dataset, Input, Model, Output

from components import make_component


def user_frame_step(
    config: dict,
    step: str,
    code_digest: str,
    train: Input[Dataset],
    test: Input[Dataset],
    train_set: Output[Dataset],
    test_set: Output[Dataset],
) -> dict:
    from kfops.steps.reporting import reported
    from kfops.steps.user_step import run_frame_step

    del code_digest  # an input only so that an edit of the code misses the cache

    with reported(step):
        result = run_frame_step(
            config,
            step,
            {"train": train.path, "test": test.path},
            {"train": train_set.path, "test": test_set.path},
        )
    for artifact, source, split in ((train_set, train, "train"), (test_set, test, "test")):
        artifact.metadata.update(dict(source.metadata))
        artifact.metadata["rows"] = result.rows[split]
    return result.to_dict()


def user_model_step(
    config: dict,
    step: str,
    code_digest: str,
    run_id: str,
    model: Input[Model],
    test: Input[Dataset],
) -> dict:
    from kfops.steps.reporting import reported
    from kfops.steps.user_step import run_model_step

    del code_digest  # an input only so that an edit of the code misses the cache

    with reported(step):
        result = run_model_step(config, step, model.path, test.path, run_id)
    return result.to_dict()


def build_frame_step(image: str):
    return make_component(user_frame_step, image)


def build_model_step(image: str):
    return make_component(user_model_step, image)
