"""drift: served traffic against training (skew) and the window before (drift).

Outputs ``drifted`` (a bool a pipeline's ``dsl.If`` can branch on), ``degraded`` (with
``feedback``: a served version's live metric fell below its registered score), ``summary``
(the step's struct: drifted features, model, version), the HTML page and the JSON report.
"""

from typing import NamedTuple

from kfp.dsl import HTML, Artifact, Output

from components import make_component


def drift(
    config: dict,
    report: Output[HTML],
    details: Output[Artifact],
    model_uri: str = "",
    since: str = "",
    feedback: str = "",
) -> NamedTuple(  # noqa: UP014 (KFP reads the functional form)
    "DriftOutputs", [("drifted", bool), ("degraded", bool), ("summary", dict)]
):
    import os
    import shutil
    from collections import namedtuple

    from kfops.steps.drift import run_drift
    from kfops.steps.reporting import reported

    os.makedirs(details.path, exist_ok=True)
    with reported("drift"):
        result = run_drift(
            config, details.path, model_uri=model_uri, since=since, feedback=feedback
        )
    shutil.copyfile(result.report_html, report.path)
    details.metadata.update(
        {"drifted": result.drifted, "model": result.model, "version": result.version}
    )
    outputs = namedtuple("DriftOutputs", ["drifted", "degraded", "summary"])
    return outputs(result.drifted, result.degraded, result.to_dict())


def build(image: str):
    return make_component(drift, image)
