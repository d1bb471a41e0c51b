"""deploy: put a version that won the gate in front of traffic, in the step's cluster.

No ``rollout:`` (or the project's first version): the InferenceService serves it. With
``rollout:``: a ModelRollout from the champion to it is created or updated. Outside a
Kubernetes pod (``kfops run``) nothing is sent; the step says so. Returns what it did, a
``DeployAction`` value.
"""

from components import make_component


def deploy(config: dict, model_version: str) -> str:
    from kfops.steps.deploy import run_deploy_version
    from kfops.steps.reporting import reported

    with reported("deploy"):
        result = run_deploy_version(config, model_version)
    print(f"deploy {result.action.value}: {result.message}")
    return result.action.value


def build(image: str):
    return make_component(deploy, image)
