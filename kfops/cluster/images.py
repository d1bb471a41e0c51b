"""Which image each component runs in, and which images kfops itself builds.

One table for ``kfops images``, ``make images`` (scripts/images.sh reads it as JSON) and
the docker runner, so the image a local container run uses is the one the compiled
pipeline names.
"""

from __future__ import annotations

from dataclasses import dataclass

from kfops.config import KfopsConfig

SERVING = "serving"
"""The model server (``kfops serve`` in an InferenceService), beside the pipeline steps."""


@dataclass(frozen=True)
class ImagePlan:
    components: dict[str, str]
    """Component (pipeline step, or ``serving``) -> image reference."""
    builds: dict[str, str]
    """What ``make images`` builds: ``kfops`` (./Dockerfile) and ``tfdv``
    (runtimes/tfdv/Dockerfile) -> the tag it gives each."""

    @property
    def pipeline_images(self) -> set[str]:
        """The images the pipeline's steps run in (not the model server's)."""
        return {image for name, image in self.components.items() if name != SERVING}

    def as_dict(self) -> dict[str, dict[str, str]]:
        return {"components": dict(self.components), "builds": dict(self.builds)}


def serving_image(cfg: KfopsConfig) -> str:
    """The kfops predictor's image: ``serving.image``, else ``cluster.image``."""
    return (cfg.serving.image if cfg.serving else None) or cfg.cluster.image


def image_plan(cfg: KfopsConfig) -> ImagePlan:
    # Here, not at the top: task_settings imports kfp.kubernetes, which does not import
    # inside a running step (kfp's executor runtime), and the deploy step reads
    # serving_image from this module.
    from kfops.cluster.task_settings import COMPONENT_NAMES, check_component_names, image_for

    check_component_names(cfg.cluster)
    components = {name: image_for(name, cfg.cluster) for name in COMPONENT_NAMES}
    serving = cfg.serving
    if serving is not None and serving.runtime != "kfops":
        components[SERVING] = f"KServe's {serving.runtime} runtime (chosen by KServe)"
    else:
        components[SERVING] = serving_image(cfg)
    builds = {"kfops": cfg.cluster.image, "tfdv": cfg.cluster.tfdv_image}
    return ImagePlan(components=components, builds=builds)
