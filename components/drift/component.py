"""drift: served traffic against training (skew) and the window before (drift).

Returns one bool, whether to retrain (drifted, degraded or ``force``): the value the
retraining pipeline's ``dsl.If`` branches on, as ``outputs["Output"]``. The return value on
purpose, not a named output: kfp.local resolves a condition on ``<task>-Output`` but
reads ``<task>-<name>`` as a pipeline input and skips the branch. The rest (the reason, drifted and degraded, drifted features, model, version) is in the
``details`` artifact's metadata beside drift.json; ``report`` is the HTML page.
"""

from kfp.dsl import HTML, Artifact, Output

from components import make_component


def drift(
    config: dict,
    report: Output[HTML],
    details: Output[Artifact],
    model_uri: str = "",
    since: str = "",
    feedback: str = "",
    force: bool = False,
) -> bool:
    import os
    import shutil

    from kfops.steps.drift import decide_retraining
    from kfops.steps.reporting import reported

    os.makedirs(details.path, exist_ok=True)
    with reported("drift"):
        decision = decide_retraining(
            config, details.path, model_uri=model_uri, since=since, feedback=feedback, force=force
        )
    print(f"drift: {decision.reason}")
    shutil.copyfile(decision.report_html, report.path)
    details.metadata.update(decision.to_dict())
    return decision.retrain


def build(image: str):
    return make_component(drift, image)
