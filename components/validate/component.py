"""validate: TFDV statistics and schema check; anomalies stop the pipeline."""

from kfp.dsl import HTML, Artifact, Dataset, Input, Output

from components import make_component


def validate(
    config: dict,
    train: Input[Dataset],
    test: Input[Dataset],
    statistics: Output[HTML],
    report: Output[Artifact],
) -> dict:
    import os
    import shutil

    from kfops.steps.reporting import reported
    from kfops.steps.validate import run_validate

    os.makedirs(report.path, exist_ok=True)
    with reported("validate"):
        result = run_validate(config, train.path, test.path, report.path)
    if result.statistics_html:
        shutil.copyfile(result.statistics_html, statistics.path)
    report.metadata.update(result.artifact_metadata())
    return result.to_dict()


def build(image: str):
    return make_component(validate, image)
