"""deploy: apply the model version's InferenceService and wait until it is Ready.

Returns the service's URL. An empty ``model_version`` deploys the current champion.
"""

from components import make_component


def deploy(config: dict, model_version: str = "") -> str:
    from kfops.steps.deploy import run_deploy
    from kfops.steps.reporting import reported

    with reported("deploy"):
        result = run_deploy(config, model_version or None)
    print(f"{result.name} in {result.namespace}: v{result.version} Ready at {result.url}")
    return result.url


def build(image: str):
    return make_component(deploy, image)
