"""features: join each split's label rows to point-in-time-correct Feast features."""

from kfp.dsl import Dataset, Input, Output

from components import make_component


def features(
    config: dict,
    train: Input[Dataset],
    test: Input[Dataset],
    train_set: Output[Dataset],
    test_set: Output[Dataset],
) -> dict:
    from kfops.steps.features import run_features
    from kfops.steps.reporting import reported

    with reported("features"):
        result = run_features(config, train.path, test.path, train_set.path, test_set.path)
    for artifact, split in ((train_set, train), (test_set, test)):
        artifact.metadata.update(dict(split.metadata))
        artifact.metadata.update(result.artifact_metadata())
    return result.to_dict()


def build(image: str):
    return make_component(features, image)
