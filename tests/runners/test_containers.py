"""The docker runner's set-up, without an engine: environment, mounts, staging."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from kfops.runners.containers import bind_mounts, container_environment, stage_dataset

KFOPS = str(Path(sys.executable).with_name("kfops"))


def test_the_containers_get_the_steps_variables_and_not_the_hosts_tfdv_path() -> None:
    host = {
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9000",
        "AWS_ACCESS_KEY_ID": "k",
        "MLFLOW_TRACKING_URI": "http://127.0.0.1:5000",
        "KFOPS_TFDV_PYTHON": "/work/runtimes/tfdv/.venv/bin/python",
        "PATH": "/usr/bin",
        "HOME": "/root",
    }
    env = container_environment(host, {"KFOPS_ERROR_FILE": "/s/e.json"})
    assert env == {
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9000",
        "AWS_ACCESS_KEY_ID": "k",
        "MLFLOW_TRACKING_URI": "http://127.0.0.1:5000",
        "HOME": "/tmp",
        "KFOPS_ERROR_FILE": "/s/e.json",
    }


def test_mounts_bind_each_folder_once_at_its_own_path(tmp_path: Path) -> None:
    project = tmp_path / "project"
    state = project / ".kfops"
    other = tmp_path / "state"
    for folder in (state, other):
        folder.mkdir(parents=True)
    mounts = bind_mounts([state, project, other, project])
    assert [(m["Source"], m["Target"], m["Type"]) for m in mounts] == [
        (str(project), str(project), "bind"),
        (str(other), str(other), "bind"),
    ]


def test_a_dataset_outside_the_mounted_folders_is_staged_by_content(tmp_path: Path) -> None:
    project, state = tmp_path / "project", tmp_path / "state"
    project.mkdir()
    state.mkdir()
    inside = project / "data.csv"
    inside.write_text("a,b\n1,2\n")
    assert stage_dataset(inside, state, [project, state]) == inside.resolve()

    outside = tmp_path / "elsewhere" / "data.csv"
    outside.parent.mkdir()
    outside.write_text("a,b\n1,2\n")
    staged = stage_dataset(outside, state, [project, state])
    assert staged.is_relative_to(state) and staged.name == "data.csv"
    assert staged.read_text() == outside.read_text()
    outside.write_text("a,b\n3,4\n")  # new content, new place: a stale copy is never reused
    again = stage_dataset(outside, state, [project, state])
    assert again != staged and again.read_text() == "a,b\n3,4\n"


def test_an_unknown_runner_is_one_line() -> None:
    ran = subprocess.run(
        [KFOPS, "run", "--runner", "kubernetes"], capture_output=True, text=True, timeout=60
    )
    assert ran.returncode == 2
    assert ran.stderr.strip().splitlines() == [
        "kfops: error: --runner: unknown runner 'kubernetes'; use subprocess or docker"
    ]


def test_the_docker_run_checks_every_step_image_also_the_one_the_server_shares() -> None:
    """The model server's image is left out of the check by its role, not by its name:
    by default it is the main image, which every step but validate and drift needs."""
    from kfops.cluster.images import image_plan
    from kfops.config import load_config

    cfg = load_config(raw={"project": "p", "data": {"path": "d.csv", "target": "y"}})
    plan = image_plan(cfg)
    assert plan.components["serving"] == cfg.cluster.image
    assert plan.pipeline_images == {cfg.cluster.image, cfg.cluster.tfdv_image}
    custom = load_config(
        raw={"project": "p", "data": {"path": "d.csv", "target": "y"},
             "serving": {"image": "registry.example/server:1"}}
    )  # fmt: skip
    assert "registry.example/server:1" not in image_plan(custom).pipeline_images
