"""The docker runner: each step in the container image the compiled pipeline names.

kfp.local's DockerRunner starts one container per task and mounts the pipeline root at
the same path. kfops adds what a pod gets from its spec: the host network (the only one on
a machine without a bridge), the user that owns the local state, the environment the
steps read (MLflow, object-store credentials), and mounts of the project folder and of
the local state at their own paths, so that a config written for the subprocess runner
runs unchanged. A local dataset outside those folders is staged into the state folder
first. Every container carries the run's label, so an interrupted run stops exactly its
own containers and leaves none behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path

from kfops.errors import PipelineError

RUN_LABEL = "io.kfops.local-run"
"""Label on every container of a local docker run; its value is the run's folder name."""

FORWARDED_PREFIXES = ("AWS_", "MLFLOW_", "GOOGLE_", "FEAST_", "KFOPS_")
"""Host variables a step may need, as a pod would get them from its secrets and config."""

NOT_FORWARDED = {"KFOPS_TFDV_PYTHON"}
"""Set by the TFDV image itself; the host's value names a path only the host has."""

STOP_TIMEOUT_S = 3
"""Seconds a stopped container gets between SIGTERM and SIGKILL."""


def docker_client():
    """A client of the local engine, or one line saying how to get one."""
    import docker

    try:
        client = docker.from_env()
        client.ping()
    except docker.errors.DockerException as exc:
        raise PipelineError(
            "--runner docker: no Docker engine answers "
            f"({str(exc).splitlines()[0][:120]}); start one (scripts/docker-engine.sh start) "
            "or use --runner subprocess"
        ) from None
    return client


def missing_images(client, images: Iterable[str]) -> list[str]:
    """Images the run needs that are not on this machine (nothing is pulled here)."""
    import docker

    missing = []
    for image in sorted(set(images)):
        try:
            client.images.get(image)
        except docker.errors.ImageNotFound:
            missing.append(image)
    return missing


def container_environment(environ: Mapping[str, str], extra: Mapping[str, str]) -> dict[str, str]:
    forwarded = {
        key: value
        for key, value in environ.items()
        if key.startswith(FORWARDED_PREFIXES) and key not in NOT_FORWARDED
    }
    # HOME: the step user may have no home in the image (an arbitrary uid, as in a pod).
    return {**forwarded, "HOME": "/tmp", **extra}


def bind_mounts(folders: Iterable[Path]) -> list:
    """Read-write binds at the same path, outermost first, each folder once."""
    from docker.types import Mount

    unique: list[Path] = []
    for folder in sorted({f.resolve() for f in folders}, key=lambda p: (len(p.parts), str(p))):
        if not any(folder.is_relative_to(outer) for outer in unique):
            unique.append(folder)
    return [Mount(target=str(f), source=str(f), type="bind") for f in unique]


def stage_dataset(path: Path, state: Path, shared: Iterable[Path]) -> Path:
    """The dataset as the containers see it: in place when a mounted folder holds it,
    else a copy under ``state/staged/`` keyed by its content."""
    path = path.resolve()
    if any(path.is_relative_to(folder.resolve()) for folder in shared):
        return path
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    target = state / "staged" / digest.hexdigest()[:16] / path.name
    if not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(target.suffix + ".part")
        shutil.copyfile(path, partial)
        partial.replace(target)
    return target


def docker_runner(run_name: str, environment: Mapping[str, str], folders: Iterable[Path]):
    from kfp import local

    return local.DockerRunner(
        network_mode="host",
        user=f"{os.getuid()}:{os.getgid()}",
        environment=dict(environment),
        mounts=bind_mounts(folders),
        labels={RUN_LABEL: run_name},
    )


def stop_run_containers(run_name: str) -> int:
    """Stop (and so remove: kfp starts them with auto-remove) the run's containers.

    A signal can land between a container's creation and its start (kfp.local's
    ``containers.run`` is interrupted there): such a container never runs, so auto-remove
    never fires; it is removed here.
    """
    import docker

    try:
        client = docker.from_env()
        label = {"label": f"{RUN_LABEL}={run_name}"}
        containers = client.containers.list(all=True, filters=label)
    except docker.errors.DockerException:
        return 0
    for container in containers:
        with contextlib.suppress(docker.errors.DockerException):
            if container.status == "running":
                container.stop(timeout=STOP_TIMEOUT_S)
            else:
                container.remove(force=True)
    return len(containers)


def run_containers(run_name: str) -> list[str]:
    """Names of the run's containers still on this machine (for tests and checks)."""
    import docker

    client = docker.from_env()
    found = client.containers.list(all=True, filters={"label": f"{RUN_LABEL}={run_name}"})
    return [c.name for c in found]
