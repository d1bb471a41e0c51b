"""The user's ``steps:`` in the training graph, at their named points.

After ingest and after features, each step takes both splits and hands its own on: a
DataFrame out of a step after features is the training set validate, tune and train see
(and the test set evaluate sees). After evaluate, a step gets the model and the test
split before register: its metrics join the run, and its failure stops the gate.

A function step runs in kfops' generic user-step component (``components/user_step``)
named after the step, with the digest of its package's source as an input; a
``component:`` step is the user's KFP component YAML, called with the inputs it declares.
User steps run in the train step's image and resources unless ``image:`` says otherwise.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kfp import dsl

from components.user_step import component as user_step_c
from kfops.config import KfopsConfig, StepPoint, UserStepConfig
from kfops.errors import ConfigurationError, one_line

IMAGE_OF = "train"
"""The built-in component whose image and task settings user steps share."""

MODEL_CODE_ENV = "KFOPS_MODEL_CODE_DIGEST"
FRAME_INPUTS = ("train", "test")
FRAME_OUTPUTS = ("train_set", "test_set")


@dataclass(frozen=True)
class UserSteps:
    """``steps:`` as the pipeline builder needs them: settings, code digests, YAML files.

    Taken on the machine that builds the pipeline, where the user's code is, each time a
    pipeline is built; the digests then travel in the compiled spec.
    """

    specs: tuple[UserStepConfig, ...] = ()
    digests: tuple[str, ...] = ()
    files: tuple[str | None, ...] = ()
    model_code: str = ""
    """Digest of the packages of ``model.preprocessing``'s transformers ("" without any)."""


NO_USER_STEPS = UserSteps()


def user_steps_of(cfg: KfopsConfig) -> UserSteps:
    """The config's steps with the digest of each function's package source."""
    from kfops.training.user_code import code_digest

    digests, files = [], []
    for spec in cfg.steps:
        digests.append(code_digest(spec.function, cfg.base_dir) if spec.function else "")
        files.append(_component_file(spec, cfg.base_dir) if spec.component else None)
    model_code = hashlib.sha256()
    for entry in cfg.model.preprocessing:
        model_code.update(code_digest(entry.transformer, cfg.base_dir).encode())
    model_digest = model_code.hexdigest() if cfg.model.preprocessing else ""
    return UserSteps(tuple(cfg.steps), tuple(digests), tuple(files), model_digest)


def carry_model_code(task: dsl.PipelineTask, user_steps: UserSteps) -> None:
    """Put the transformers' code digest in a task's environment, which both caches key on:
    an edit of a transformer trains (and tunes) again, though config and data are the same."""
    if user_steps.model_code:
        task.set_env_variable(MODEL_CODE_ENV, user_steps.model_code)


def _component_file(spec: UserStepConfig, base_dir: str | None) -> str:
    path = Path(spec.component or "")
    if not path.is_absolute() and base_dir:
        path = Path(base_dir) / path
    if not path.is_file():
        raise ConfigurationError(
            f"steps.{spec.name}.component: {path}: no such file; give the path of a KFP "
            "component YAML, relative to kfops.yaml"
        )
    return str(path)


@dataclass(frozen=True)
class BuiltUserStep:
    """One user step's component, ready to be called inside the pipeline function."""

    spec: UserStepConfig
    digest: str
    component: Callable[..., dsl.PipelineTask]
    from_yaml: bool


def build_user_steps(user_steps: UserSteps, image_for: Callable[[str], str]) -> tuple:
    """Each step's component: kfops' wrapper around the function, or the user's YAML."""
    built = []
    for spec, digest, file in zip(
        user_steps.specs, user_steps.digests, user_steps.files, strict=True
    ):
        if file is not None:
            built.append(BuiltUserStep(spec, digest, _load_yaml(spec, file), True))
            continue
        image = spec.image or image_for(IMAGE_OF)
        if spec.after is StepPoint.EVALUATE:
            component = user_step_c.build_model_step(image)
        else:
            component = user_step_c.build_frame_step(image)
        # The task, its progress line and its cache entry carry the step's own name.
        component.component_spec.name = spec.name
        component.name = spec.name
        built.append(BuiltUserStep(spec, digest, component, False))
    return tuple(built)


def _load_yaml(spec: UserStepConfig, file: str) -> Callable[..., dsl.PipelineTask]:
    from kfp import components

    key = f"steps.{spec.name}.component"
    try:
        component = components.load_component_from_file(file)
    except Exception as exc:  # kfp's parser: any error
        raise ConfigurationError(
            f"{key}: {file} is not a KFP component YAML ({one_line(exc, 300)}); fix the file"
        ) from exc
    if spec.after is not StepPoint.EVALUATE:
        declared = component.component_spec.inputs or {}
        produced = component.component_spec.outputs or {}
        missing = [n for n in FRAME_INPUTS if n not in declared]
        missing += [n for n in FRAME_OUTPUTS if n not in produced]
        if missing:
            raise ConfigurationError(
                f"{key}: {file} lacks {', '.join(missing)}; a step after {spec.after} takes "
                "Dataset inputs train and test and produces Dataset outputs train_set and test_set"
            )
    return component


Named = Callable[[dsl.PipelineTask, str], dsl.PipelineTask]


def _call(step: BuiltUserStep, available: dict[str, Any]) -> dsl.PipelineTask:
    if step.from_yaml:
        declared = step.component.component_spec.inputs or {}
        return step.component(**{k: v for k, v in available.items() if k in declared})
    return step.component(step=step.spec.name, code_digest=step.digest, **available)


def _named(task: dsl.PipelineTask, step: BuiltUserStep, named: Named) -> dsl.PipelineTask:
    named(task, IMAGE_OF)  # the train step's task settings (resources, secrets, node selector)
    task.set_display_name(step.spec.name)
    return task


def add_frame_steps(
    steps: tuple,
    point: StepPoint,
    named: Named,
    config: Any,
    train: Any,
    test: Any,
) -> tuple[Any, Any]:
    """Chain the steps after ``point``; the splits the next built-in step reads."""
    for step in steps:
        if step.spec.after is not point:
            continue
        available = {"train": train, "test": test}
        if not step.from_yaml:
            available["config"] = config
        task = _named(_call(step, available), step, named)
        train, test = task.outputs["train_set"], task.outputs["test_set"]
    return train, test


def add_model_steps(
    steps: tuple, named: Named, config: Any, run_id: Any, model: Any, test: Any
) -> list[dsl.PipelineTask]:
    """The after-evaluate steps; register waits for each of them."""
    tasks = []
    for step in steps:
        if step.spec.after is not StepPoint.EVALUATE:
            continue
        available = {"config": config, "run_id": run_id, "model": model, "test": test}
        tasks.append(_named(_call(step, available), step, named))
    return tasks
