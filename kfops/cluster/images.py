"""Which image each component runs in, and which images kfops itself builds.

One table for ``kfops images``, ``make images`` (scripts/images.sh reads it as JSON) and
the docker runner, so the image a local container run uses is the one the compiled
pipeline names.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

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


USER_CODE_DIR = "/opt/kfops-user"
"""Where ``kfops images --with`` puts the project's packages in its image (on PYTHONPATH)."""


@dataclass(frozen=True)
class UserImage:
    """The image ``kfops images --with PATH`` builds: kfops' own plus the project's code."""

    tag: str
    base: str
    dockerfile: str
    files: dict[str, Path]
    """Build-context name -> the file or package folder copied there."""


def _packages(path: Path) -> dict[str, Path]:
    """The Python code to ship: a wheel, a package folder, or a project's packages."""
    from kfops.errors import ConfigurationError

    if path.is_file() and path.suffix == ".whl":
        return {path.name: path}
    if (path / "__init__.py").is_file():
        return {path.name: path}
    found = {
        child.name: child
        for child in sorted(path.iterdir())
        if (child / "__init__.py").is_file() and child.name not in {"tests", "test"}
    } if path.is_dir() else {}  # fmt: skip
    if not found:
        raise ConfigurationError(
            f"--with: {path} is no wheel, package or folder holding a package; give the "
            "folder of kfops.yaml with your package in it, the package, or a .whl"
        )
    return found


def _digest(base: str, files: dict[str, Path]) -> str:
    import hashlib

    digest = hashlib.sha256(base.encode())
    for name, source in sorted(files.items()):
        paths = [source] if source.is_file() else sorted(source.rglob("*"))
        for path in paths:
            if path.is_file() and "__pycache__" not in path.parts:
                digest.update(f"{name}/{path.relative_to(source).as_posix()}".encode() + b"\0")
                digest.update(path.read_bytes())
    return digest.hexdigest()


def user_image(cfg: KfopsConfig, path: Path) -> UserImage:
    """The image of ``cluster.image`` with the project's code, tagged by its content.

    A wheel is unpacked onto ``/opt/kfops-user`` (pure-Python code; its dependencies must
    be in kfops' image: no index is reached while building), a package folder is copied
    there; ``PYTHONPATH`` then finds it in every step, and in ``kfops serve``.
    """
    base = cfg.cluster.image
    files = _packages(path.resolve())
    repository = base.rsplit(":", 1)[0] if ":" in base.rsplit("/", 1)[-1] else base
    tag = f"{repository}-{cfg.project}:{_digest(base, files)[:12]}"
    lines = [
        f"FROM {base}",
        "USER 0:0",
        *(f"COPY {name} /tmp/kfops-user/{name}" for name in files),
    ]
    for name, source in files.items():
        if source.is_file():  # a wheel is a zip file
            lines.append(f"RUN python -m zipfile -e /tmp/kfops-user/{name} {USER_CODE_DIR}")
        else:
            lines.append(
                f"RUN mkdir -p {USER_CODE_DIR} && cp -r /tmp/kfops-user/{name} {USER_CODE_DIR}/"
            )
    lines += [
        "RUN rm -rf /tmp/kfops-user",
        f"ENV PYTHONPATH=/app:{USER_CODE_DIR}",
        "USER 1000:1000",
    ]
    return UserImage(tag=tag, base=base, dockerfile="\n".join(lines) + "\n", files=files)


def build_user_image(image: UserImage, docker: str) -> None:
    """``docker build`` it from a context holding only the shipped code."""
    import shutil
    import subprocess
    import tempfile

    from kfops.errors import ClusterError, one_line

    with tempfile.TemporaryDirectory() as context:
        root = Path(context)
        for name, source in image.files.items():
            if source.is_file():
                shutil.copy2(source, root / name)
            else:
                shutil.copytree(source, root / name, ignore=shutil.ignore_patterns("__pycache__"))
        (root / "Dockerfile").write_text(image.dockerfile)
        command = [docker, "build", "--quiet", "--network", "host", "-t", image.tag, str(root)]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise ClusterError(
            f"--with: docker build of {image.tag} on {image.base} failed ({one_line(last)}); "
            "build kfops' own image first (make images) and check the engine"
        )


def docker_client() -> str:
    """``$KFOPS_DOCKER``, else Debian's docker.io client (its BuildKit), else ``docker``."""
    import os
    import shutil

    from kfops.errors import ClusterError

    chosen = os.environ.get("KFOPS_DOCKER") or (
        "/usr/bin/docker" if Path("/usr/bin/docker").is_file() else shutil.which("docker")
    )
    if not chosen:
        raise ClusterError("--with: no docker client; install docker.io or set $KFOPS_DOCKER")
    return chosen
