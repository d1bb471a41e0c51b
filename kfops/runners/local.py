"""The embedded default: run a pipeline through kfp.local, no cluster and no network.

SubprocessRunner(use_venv=False) runs each step in a subprocess of this interpreter
(0.16 s overhead a step) instead of building a virtualenv per step (17 s and network).
The docker runner (``--runner docker``) runs each step in the image a compiled pipeline
names for it instead (:mod:`kfops.runners.containers`): the cluster's images, locally.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import logging
import os
import threading
import time
from collections.abc import Callable
from contextlib import redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlparse

from kfops.config import KfopsConfig, config_to_dict, data_config_to_dict
from kfops.errors import ConfigurationError, DataError, PipelineError, one_line
from kfops.runners import run_memo
from kfops.runners.code_digest import MEMO_NAME as CODE_MEMO
from kfops.runners.code_digest import CodeDigests, local_image
from kfops.runners.interrupts import interruptible, stop_descendants
from kfops.runners.progress import ProgressStream, StepEvent, StepStatus
from kfops.runners.read_back import local_store
from kfops.runners.warm import WARM_ENV, warm_steps
from kfops.runners.warm_tfdv import EarlyTFDV
from kfops.steps.reporting import ERROR_FILE_ENV, read_error

# The subprocess runner warns about images without "python" in their name.
LOCAL_IMAGE = "python:3.11-kfops-local"

Runner = Literal["subprocess", "docker"]
RUNNERS: tuple[Runner, ...] = ("subprocess", "docker")


@dataclass
class LocalRun:
    run_dir: Path
    log_path: Path
    pipeline_root: Path
    outputs: dict[str, Any]
    events: list[StepEvent] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def cached_steps(self) -> list[str]:
        return [e.step for e in self.events if e.status is StepStatus.CACHED]


def data_fingerprint(uri: str) -> str:
    """Content hash of a local dataset, so a changed file is never served from cache.

    dvc:// URIs are fingerprinted by the commit their revision resolves to (and the path),
    so a moved branch is never served from cache; objects (s3://, gs://, https://) by their
    ETag or generation, size and time, so a replaced object is not either. Other remote
    URIs are fingerprinted by the URI itself (their ingest step digests the content).
    """
    if uri.lower().startswith("dvc://"):
        from kfops.data.dvc_source import dvc_fingerprint

        return dvc_fingerprint(uri)
    if "://" in uri.removeprefix("file://"):  # a local file needs no object store client
        from kfops.data.object_store import PACKAGES, object_fingerprint

        if urlparse(uri).scheme.lower() in PACKAGES:
            return object_fingerprint(uri)
    path = Path(uri.removeprefix("file://"))
    if "://" in uri.removeprefix("file://") or not path.is_file():
        return hashlib.sha256(uri.encode()).hexdigest()
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# What reading the run back through MLflow (``kfops.cli.summary``: the MLflow run, version
# and aliases, from a tracking server) imports: about 2 s here, paid while the steps run
# instead of after them.
READ_BACK_MODULES = ("mlflow", "mlflow.store.tracking.sqlalchemy_store", "kfops.registry.versions")


def _prefetch(modules: tuple[str, ...]) -> threading.Thread:
    """Import ``modules`` in a thread; the run mostly waits on its steps meanwhile."""

    def load() -> None:
        for name in modules:
            with contextlib.suppress(Exception):  # the reader imports it again and fails there
                importlib.import_module(name)

    thread = threading.Thread(target=load, name="kfops-prefetch", daemon=True)
    thread.start()
    return thread


def _run_dir(state: Path) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    run_dir = state / "runs" / stamp
    n = 1
    while run_dir.exists():
        n += 1
        run_dir = state / "runs" / f"{stamp}-{n}"
    run_dir.mkdir(parents=True)
    return run_dir


def _docker_setup(
    cfg: KfopsConfig, run_dir: Path, environment: dict[str, str]
) -> tuple[Any, Callable[[str], str], KfopsConfig]:
    """The DockerRunner, the images by component, and the config as the containers see it.

    Checked before anything runs: an engine answers and every image is here (nothing is
    pulled), so a missing image is one line, not a failure in the middle of the run.
    """
    from kfops.cluster.images import image_plan
    from kfops.cluster.task_settings import image_for
    from kfops.runners.containers import docker_client, docker_runner, missing_images, stage_dataset

    plan = image_plan(cfg)
    missing = missing_images(docker_client(), plan.pipeline_images)
    if missing:
        raise PipelineError(
            f"--runner docker: image {', '.join(missing)} is not on this machine; build kfops' "
            "images with 'make images' or set cluster.image / cluster.images to images you have"
        )
    state = Path(cfg.runtime.root).resolve()
    folders = [state] + ([Path(cfg.base_dir)] if cfg.base_dir else [])
    path = cfg.data.path.removeprefix("file://")
    if "://" not in path:
        staged = stage_dataset(Path(path), state, folders)
        cfg = cfg.model_copy(update={"data": cfg.data.model_copy(update={"path": str(staged)})})
    runner = docker_runner(run_dir.name, environment, folders)
    return runner, lambda component: image_for(component, cfg.cluster), cfg


def run_pipeline_locally(
    cfg: KfopsConfig,
    pipeline_factory: Callable[..., Any],
    on_event: Callable[[StepEvent], None] = lambda event: None,
    runner: Runner = "subprocess",
    arguments: dict[str, Any] | None = None,
) -> LocalRun:
    """Run ``pipeline_factory(image_for)`` with the config; raise the failing step's error.

    ``runner``: ``subprocess`` (steps in this environment) or ``docker`` (each step in its
    image, as in the cluster). ``arguments``: the pipeline's other inputs (retraining's
    ``force``), beside the config and the data fingerprint.
    """
    containers = [step.name for step in cfg.steps if step.component]
    if runner == "subprocess" and containers:
        raise ConfigurationError(
            f"steps.{containers[0]}: a KFP component YAML runs in its own image, which the "
            "subprocess runner cannot start; run with --runner docker, or in a cluster "
            "(kfops submit)"
        )
    local_path = cfg.data.path.removeprefix("file://")
    if "://" not in local_path and not Path(local_path).is_file():
        raise DataError(
            f"{local_path}: file not found; pass --data with an existing CSV or Parquet file"
        )
    # Started once the input checks above passed: a refused run imports nothing more.
    # The default local store is read back without MLflow (kfops.runners.read_back).
    prefetch = _prefetch(READ_BACK_MODULES if local_store(cfg) is None else ())
    fingerprint = data_fingerprint(cfg.data.path)  # a bad dvc:// revision fails here, cleanly
    state = Path(cfg.runtime.root)
    run_dir = _run_dir(state)
    pipeline_root = (state / "pipeline_root").resolve()
    error_file = run_dir / "error.json"
    log_path = run_dir / "pipeline.log"
    digests = CodeDigests(state / CODE_MEMO)
    memo_key = _memo_key(cfg, pipeline_factory, arguments, runner, fingerprint, digests)
    if memo_key is not None:
        memo = run_memo.recall(state, memo_key)
        digests.memo.save()
        if memo is not None:
            prefetch.join()
            return _from_memo(memo, run_dir, log_path, pipeline_root, on_event)
    from kfp import local

    os.environ[ERROR_FILE_ENV] = str(error_file.resolve())
    os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    stop: Callable[[], object] = stop_descendants
    if runner == "docker":
        from kfops.runners.containers import container_environment, stop_run_containers

        environment = container_environment(
            os.environ,
            {
                ERROR_FILE_ENV: str(error_file.resolve()),
                "MLFLOW_DISABLE_TELEMETRY": "true",
                "TF_CPP_MIN_LOG_LEVEL": os.environ["TF_CPP_MIN_LOG_LEVEL"],
            },
        )
        task_runner, image_of, cfg = _docker_setup(cfg, run_dir, environment)

        def stop() -> object:
            return (stop_run_containers(run_dir.name), stop_descendants())
    else:
        task_runner = local.SubprocessRunner(use_venv=False)

        def image_of(component: str) -> str:
            # kfp.local keys a task on its image: the code the step runs is in the name.
            return local_image(LOCAL_IMAGE, digests, component)

    local.init(
        runner=task_runner,
        pipeline_root=str(pipeline_root),
        raise_on_error=True,
        enable_caching=cfg.runtime.caching,
        cache_root=str(state / "cache"),
    )
    pipeline = pipeline_factory(image_of)
    digests.memo.save()
    events: list[StepEvent] = []
    running: dict[str, None] = {}  # insertion-ordered set of the steps started, not ended
    stopping = threading.Event()  # set on SIGINT/SIGTERM: the killed steps' ends are noise

    def record(event: StepEvent) -> None:
        if stopping.is_set():
            return
        if event.status is StepStatus.STARTED:
            tfdv.start_before(event.step, seen={e.step for e in events})
            running[event.step] = None
        elif event.status not in (StepStatus.CACHED, StepStatus.PROGRESS):
            running.pop(event.step, None)
        events.append(event)
        on_event(event)

    warm = (
        warm_steps()
        if runner != "docker" and os.environ.get(WARM_ENV, "1") != "0"
        else contextlib.nullcontext()
    )
    tfdv = EarlyTFDV(enabled=runner != "docker" and cfg.validation.enabled)
    started = time.monotonic()
    root = logging.getLogger()
    saved_level, saved_handlers = root.level, root.handlers[:]
    with log_path.open("w") as log:
        stream = ProgressStream(log, record)
        handler = logging.StreamHandler(stream)
        root.handlers = [handler]
        root.setLevel(logging.INFO)
        try:
            with (
                tfdv,
                warm,
                redirect_stdout(stream),
                interruptible(lambda: tuple(running), stopping, stop),
            ):
                task = pipeline(
                    config=config_to_dict(cfg),
                    data_config=data_config_to_dict(cfg),
                    data_fingerprint=fingerprint,
                    **(arguments or {}),
                )
        except Exception as exc:
            failure = read_error(error_file)
            if failure:
                raise failure.error() from None
            raise PipelineError(
                f"pipeline failed: {one_line(exc)}; the full log is {log_path}"
            ) from exc
        finally:
            root.handlers = saved_handlers
            root.setLevel(saved_level)
            os.environ.pop(ERROR_FILE_ENV, None)
    seconds = time.monotonic() - started
    outputs = dict(getattr(task, "outputs", None) or {})
    if memo_key is not None:
        steps = [e.step for e in events if e.status in (StepStatus.CACHED, StepStatus.SUCCEEDED)]
        spec = getattr(pipeline, "pipeline_spec", None)
        run_memo.remember(state, memo_key, list(dict.fromkeys(steps)), outputs, spec)
    prefetch.join()  # the reader starts on whole modules, never half-imported ones
    return LocalRun(
        run_dir=run_dir,
        log_path=log_path,
        pipeline_root=pipeline_root,
        outputs=outputs,
        events=events,
        seconds=seconds,
    )


def _memo_key(
    cfg: KfopsConfig,
    pipeline_factory: Callable[..., Any],
    arguments: dict[str, Any] | None,
    runner: str,
    fingerprint: str,
    digests: CodeDigests,
) -> str | None:
    """The run memo's key when this run may use one (kfops.runners.run_memo), else None."""
    pipeline = getattr(pipeline_factory, "pipeline", None)  # a compile.PipelineBuilder's
    if not isinstance(pipeline, str) or not run_memo.eligible(cfg, arguments, runner):
        return None
    return run_memo.run_key(cfg, fingerprint, pipeline, digests)


def _from_memo(
    memo: dict[str, Any],
    run_dir: Path,
    log_path: Path,
    pipeline_root: Path,
    on_event: Callable[[StepEvent], None],
) -> LocalRun:
    """Every step a cache hit, as the memo's run left kfp.local's cache: said so, no kfp."""
    started = time.monotonic()
    steps = [str(step) for step in memo["steps"]]
    log_path.write_text(
        f"every step is a cache hit (run memo {memo['key'][:16]}, {run_memo.MEMO_FILE}): "
        f"{', '.join(steps)}\n"
    )
    events = [StepEvent(step, StepStatus.CACHED) for step in steps]
    for event in events:
        on_event(event)
    return LocalRun(
        run_dir=run_dir,
        log_path=log_path,
        pipeline_root=pipeline_root,
        outputs=dict(memo["outputs"]),
        events=events,
        seconds=time.monotonic() - started,
    )
