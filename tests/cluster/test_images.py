"""kfops' images, built here by `make images`'s script and run: the tools a pod calls work.

Slow: the first build of both images takes minutes (later ones reuse the engine's layers).
"""

from __future__ import annotations

import json
import subprocess

import pytest

from kfops import __version__

pytestmark = pytest.mark.slow


def docker(cli: str, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([cli, *args], capture_output=True, text=True, timeout=timeout)


def inspect(cli: str, image: str) -> dict:
    shown = docker(cli, "image", "inspect", image)
    assert shown.returncode == 0, shown.stderr
    return json.loads(shown.stdout)[0]


def test_main_image_runs_kfops_as_a_non_root_user(
    docker_engine: str, kfops_images: dict[str, str]
) -> None:
    image = kfops_images["kfops"]
    ran = docker(docker_engine, "run", "--rm", "--network", "host", image, "kfops", "version")
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() == __version__
    config = inspect(docker_engine, image)["Config"]
    assert config["User"] == "1000:1000"
    assert config["Healthcheck"]["Test"][-1] == "kfops.serving.healthcheck"
    # The CA bundle passed as a build secret is in no layer and no setting of the image.
    assert not any("secrets" in value for value in config.get("Env") or [])
    found = docker(docker_engine, "run", "--rm", image, "ls", "/run/secrets")
    assert found.returncode != 0


def test_tfdv_image_imports_tfdv_in_its_runtime(
    docker_engine: str, kfops_images: dict[str, str]
) -> None:
    image = kfops_images["tfdv"]
    probe = (
        "import tensorflow_data_validation as t, kfops.validation.tfdv_worker; print(t.__version__)"
    )
    ran = docker(
        docker_engine, "run", "--rm", image, "sh", "-c", f'"$KFOPS_TFDV_PYTHON" -c "{probe}"'
    )
    assert ran.returncode == 0, ran.stderr[-2000:]
    assert ran.stdout.strip().splitlines()[-1] == "1.16.1"
    # The compiler that built pyfarmhash stayed in the build stage.
    compiler = docker(docker_engine, "run", "--rm", image, "sh", "-c", "command -v g++ c++ cc")
    assert compiler.stdout.strip() == ""
    assert inspect(docker_engine, image)["Config"]["User"] == "1000:1000"
