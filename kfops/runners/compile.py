"""Compile the pipelines to KFP IR YAML for a cluster, with images and task settings."""

from __future__ import annotations

import filecmp
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kfops.config import KfopsConfig
from kfops.errors import ConfigurationError

COMPILED_DIR = Path(__file__).resolve().parents[2] / "pipelines" / "compiled"


PIPELINES = ("training", "retraining")
"""The pipelines kfops ships; each comes in the graph variants of pipelines.training.VARIANTS."""


def _builders():
    from pipelines.retraining import build_retraining_pipeline
    from pipelines.training import build_training_pipeline

    return {"training": build_training_pipeline, "retraining": build_retraining_pipeline}


def pipeline_factories():
    """Name (``training-tuned``, ``retraining-deploy``, ...) -> builder of every graph."""
    from functools import partial

    from pipelines.training import VARIANTS

    return {
        name.replace("training", pipeline, 1): partial(builder, **options)
        for pipeline, builder in _builders().items()
        for name, options in VARIANTS.items()
    }


def pipeline_name_for(cfg: KfopsConfig, pipeline: str = "training") -> str:
    """The compiled graph a config runs: the pipeline, with tune (tuning:) and deploy
    (serving:) steps."""
    from pipelines.training import variant_for

    if pipeline not in PIPELINES:
        raise ConfigurationError(
            f"--pipeline: unknown pipeline '{pipeline}'; use {' or '.join(PIPELINES)}"
        )
    return variant_for(cfg).replace("training", pipeline, 1)


@dataclass(frozen=True)
class PipelineBuilder:
    """The graph a config runs, built when called (image_for -> pipeline): a run answered
    from its memo (:mod:`kfops.runners.run_memo`) never imports kfp."""

    cfg: KfopsConfig
    pipeline: str
    user_steps: Any = None  # pipelines.user_steps.UserSteps, taken when the builder is

    def __call__(self, image_for: Any) -> Any:
        from pipelines.user_steps import user_steps_of

        builder = pipeline_factories()[pipeline_name_for(self.cfg, self.pipeline)]
        return builder(image_for, user_steps=self.user_steps or user_steps_of(self.cfg))


def pipeline_builder(cfg: KfopsConfig, pipeline: str = "training") -> PipelineBuilder:
    """The builder of the graph the config runs (for the local runner)."""
    if pipeline not in PIPELINES:
        raise ConfigurationError(
            f"--pipeline: unknown pipeline '{pipeline}'; use {' or '.join(PIPELINES)}"
        )
    if not (cfg.steps or cfg.model.preprocessing):
        return PipelineBuilder(cfg, pipeline)
    from pipelines.user_steps import user_steps_of

    # The user's code is read (and a bad step named) now, before the run starts.
    return PipelineBuilder(cfg, pipeline, user_steps_of(cfg))


def compile_pipeline(cfg: KfopsConfig, name: str, out_dir: Path) -> Path:
    """Compile one shipped pipeline with the config's images and task settings."""
    from kfp import compiler

    from kfops.cluster.task_settings import apply_task_settings, check_component_names, image_for
    from pipelines.user_steps import user_steps_of

    check_component_names(cfg.cluster)
    out_dir.mkdir(parents=True, exist_ok=True)
    pipeline = pipeline_factories()[name](
        lambda component: image_for(component, cfg.cluster),
        lambda task, component: apply_task_settings(task, component, cfg.cluster),
        user_steps=user_steps_of(cfg),
    )
    target = out_dir / f"{name}.yaml"
    compiler.Compiler().compile(pipeline, str(target))
    return target


def compile_pipelines(cfg: KfopsConfig, out_dir: Path) -> list[Path]:
    return [compile_pipeline(cfg, name, out_dir) for name in pipeline_factories()]


def stale_files(cfg: KfopsConfig, committed_dir: Path) -> list[str]:
    """Names of compiled files in ``committed_dir`` that differ from a fresh compile."""
    with tempfile.TemporaryDirectory() as tmp:
        fresh = compile_pipelines(cfg, Path(tmp))
        return [
            f.name
            for f in fresh
            if not (committed_dir / f.name).is_file()
            or not filecmp.cmp(f, committed_dir / f.name, shallow=False)
        ]
