"""Compile the pipelines to KFP IR YAML for a cluster, with images and task settings."""

from __future__ import annotations

import filecmp
import tempfile
from pathlib import Path

from kfops.cluster.task_settings import apply_task_settings, check_component_names, image_for
from kfops.config import KfopsConfig

COMPILED_DIR = Path(__file__).resolve().parents[2] / "pipelines" / "compiled"


def pipeline_factories():
    """Name -> builder of every pipeline kfops ships."""
    from functools import partial

    from pipelines.training import VARIANTS, build_training_pipeline

    return {name: partial(build_training_pipeline, **options) for name, options in VARIANTS.items()}


def pipeline_name_for(cfg: KfopsConfig) -> str:
    """The compiled pipeline a config runs: with tune (tuning:) and deploy (serving:) steps."""
    from pipelines.training import variant_for

    return variant_for(cfg)


def compile_pipeline(cfg: KfopsConfig, name: str, out_dir: Path) -> Path:
    """Compile one shipped pipeline with the config's images and task settings."""
    from kfp import compiler

    check_component_names(cfg.cluster)
    out_dir.mkdir(parents=True, exist_ok=True)
    pipeline = pipeline_factories()[name](
        lambda component: image_for(component, cfg.cluster),
        lambda task, component: apply_task_settings(task, component, cfg.cluster),
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
