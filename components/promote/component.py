"""promote: move the champion alias to the version that passed the gate."""

from components import make_component


def promote(config: dict, run_id: str) -> str:
    from kfops.steps.register import run_promote
    from kfops.steps.reporting import reported

    with reported("promote"):
        return run_promote(config, run_id).version


def build(image: str):
    return make_component(promote, image)
