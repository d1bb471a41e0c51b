"""evaluate: metrics and plots on the test split, logged to MLflow and to KFP."""

from typing import NamedTuple

from kfp.dsl import HTML, ClassificationMetrics, Dataset, Input, Metrics, Model, Output

from components import make_component


def evaluate(
    config: dict,
    summary: dict,
    run_id: str,
    model: Input[Model],
    test: Input[Dataset],
    metrics: Output[Metrics],
    classification: Output[ClassificationMetrics],
    plots: Output[HTML],
) -> NamedTuple("EvaluateOutputs", metric=str, score=float, values=dict):
    import json
    import os
    from collections import namedtuple

    from kfops.steps.evaluate import plots_html, run_evaluate
    from kfops.steps.reporting import reported

    out_dir = os.path.join(os.path.dirname(plots.path), "png")
    with reported("evaluate"):
        result = run_evaluate(config, summary, run_id, model.path, test.path, out_dir)
    for name, value in result.metrics.items():
        metrics.log_metric(name, value)
    if result.confusion_matrix:
        classification.log_confusion_matrix(result.labels, result.confusion_matrix)
    if result.roc:
        fpr, tpr, thresholds = (list(col) for col in zip(*result.roc, strict=True))
        classification.log_roc_curve(fpr, tpr, thresholds)
    # Metrics artifacts live in metadata; a file at their path lets the step cache reuse them.
    for artifact, payload in ((metrics, result.metrics), (classification, result.labels)):
        with open(artifact.path, "w") as handle:
            json.dump(payload, handle)
    with open(plots.path, "w") as handle:
        handle.write(plots_html("Evaluation", result.metrics, result.plots))
    outputs = namedtuple("EvaluateOutputs", ["metric", "score", "values"])
    return outputs(result.promotion_metric, result.score, result.metrics)


def build(image: str):
    return make_component(evaluate, image)
