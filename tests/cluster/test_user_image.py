"""``kfops images --with PATH``: kfops' image plus the project's own code."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from kfops.cluster.images import USER_CODE_DIR, user_image
from kfops.config import load_config
from kfops.errors import ConfigurationError

PROJECT = Path(__file__).resolve().parents[1] / "user_project"
KFOPS = str(Path(sys.executable).with_name("kfops"))


@pytest.fixture
def project(tmp_path: Path) -> Path:
    target = tmp_path / "project"
    shutil.copytree(PROJECT, target, ignore=shutil.ignore_patterns("__pycache__", ".kfops"))
    return target


def test_a_project_folder_ships_its_packages_on_top_of_cluster_image(project: Path) -> None:
    cfg = load_config(project / "kfops.yaml", ["cluster.image=example.org/kfops:2"])
    image = user_image(cfg, project)
    assert set(image.files) == {"acme_ml"}, "tests/ and data stay out"
    assert image.dockerfile.startswith("FROM example.org/kfops:2\n")
    assert f"ENV PYTHONPATH=/app:{USER_CODE_DIR}" in image.dockerfile
    assert image.tag.startswith("example.org/kfops-acme-churn:")
    (project / "acme_ml" / "transformers.py").write_text("# edited\n")
    assert user_image(cfg, project).tag != image.tag, "the tag follows the code"


def test_a_wheel_is_unpacked_onto_the_path(project: Path, tmp_path: Path) -> None:
    wheel = tmp_path / "acme_ml-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.write(project / "acme_ml" / "__init__.py", "acme_ml/__init__.py")
    image = user_image(load_config(project / "kfops.yaml"), wheel)
    assert f"RUN python -m zipfile -e /tmp/kfops-user/{wheel.name} {USER_CODE_DIR}" in (
        image.dockerfile
    )


def test_a_path_without_python_code_is_one_line(project: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"^--with: .*components is no wheel, package"):
        user_image(load_config(project / "kfops.yaml"), project / "components")


@pytest.mark.slow
def test_the_built_image_runs_the_users_step(kfops_images, docker_engine, project: Path) -> None:
    """Built on kfops' own image; a step of the project runs in it through kfops' runner."""
    env = {**os.environ, "KFOPS_DOCKER": docker_engine, "MLFLOW_DISABLE_TELEMETRY": "true"}
    built = subprocess.run(
        [KFOPS, "images", "--with", str(project), "-c", str(project / "kfops.yaml"), "--json"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    tag = json.loads(built.stdout)["image"]
    script = (
        "import pandas as pd\n"
        "from kfops.steps.user_step import run_frame_step\n"
        "pd.DataFrame({'x': [1.0, 9.0]}).to_parquet('/tmp/in.parquet')\n"
        "config = {'project': 'p', 'data': {'path': 'd', 'target': 'y'}, 'steps': [{'name': "
        "'drop', 'after': 'features', 'function': 'acme_ml.steps.drop_outliers.drop_outliers',"
        " 'params': {'column': 'x', 'upper': 5.0}}]}\n"
        "paths = {'train': '/tmp/in.parquet', 'test': '/tmp/in.parquet'}\n"
        "out = {'train': '/tmp/train', 'test': '/tmp/test'}\n"
        "print(run_frame_step(config, 'drop', paths, out).rows)\n"
    )
    ran = subprocess.run(
        [docker_engine, "run", "--rm", "--network", "host", tag, "python", "-c", script],
        capture_output=True,
        text=True,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() == "{'train': 1, 'test': 2}"
    subprocess.run([docker_engine, "rmi", tag], capture_output=True, check=False)
