"""register: a new Model Registry version with alias challenger, and the gate decision.

Returns the decision alone, a ``GateDecision`` value ("promote" or "keep"): the pipeline
branches on it, and kfp.local resolves a condition only on a task's single ``Output``.
The scores and the reason are on the model version's tags.
"""

from components import make_component


def register(config: dict, run_id: str, model_uri: str, metric: str, score: float) -> str:
    from kfops.steps.register import run_register
    from kfops.steps.reporting import reported

    with reported("register"):
        result = run_register(config, run_id, model_uri, metric, score)
    print(f"version {result.version}: {result.gate.reason}")
    return result.decision.value


def build(image: str):
    return make_component(register, image)
