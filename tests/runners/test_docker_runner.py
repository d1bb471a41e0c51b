"""`kfops run --runner docker`: every step in the image the compiled pipeline names.

Real containers from the images `make images` builds, on the host network, with the state
and the project mounted at their own paths. Slow: it builds the images first (cached).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from kfops.runners.containers import RUN_LABEL

pytestmark = pytest.mark.slow

KFOPS = str(Path(sys.executable).with_name("kfops"))
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "churn"
ENV = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "COLUMNS": "200"}


def containers(cli: str, *filters: str) -> list[str]:
    args = [cli, "ps", "-a", "--format", "{{.Names}} {{.Image}}"]
    for item in filters:
        args += ["--filter", item]
    listed = subprocess.run(args, capture_output=True, text=True, check=True)
    return listed.stdout.split("\n")[:-1]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """The bundled example with its state in tmp_path and its dataset outside the project
    (so the runner must stage it)."""
    shutil.copytree(EXAMPLE, tmp_path / "churn", ignore=shutil.ignore_patterns(".kfops"))
    data = tmp_path / "datasets" / "churn.csv"
    data.parent.mkdir()
    shutil.move(tmp_path / "churn" / "data" / "churn.csv", data)
    config = tmp_path / "churn" / "kfops.yaml"
    document = yaml.safe_load(config.read_text())
    document["runtime"] = {"root": str(tmp_path / "state")}
    document["data"]["path"] = str(data)
    config.write_text(yaml.safe_dump(document, sort_keys=False))
    return config


def test_every_step_runs_in_its_image_and_no_container_is_left(
    docker_engine: str, kfops_images: dict[str, str], project: Path, tmp_path: Path
) -> None:
    started = time.monotonic()
    ran = subprocess.run(
        [KFOPS, "run", "--runner", "docker", "--config", str(project), "--json"],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=900,
    )
    seconds = time.monotonic() - started
    assert ran.returncode == 0, ran.stderr[-4000:]
    summary = json.loads(ran.stdout)
    print(f"docker run of the bundled example: {seconds:.0f} s")
    # A first version on an empty store: registered and made champion, from the containers.
    assert summary["version"] == "1"
    assert summary["aliases"].get("champion") == "1"
    assert summary["metrics"]["roc_auc"] > 0.7
    assert summary["cached_steps"] == []
    log = next((tmp_path / "state" / "runs").iterdir()) / "pipeline.log"
    text = log.read_text()
    # kfp.local's DockerRunner names the image of each task it starts.
    assert f"Found image '{kfops_images['tfdv']}'" in text
    assert f"Found image '{kfops_images['kfops']}'" in text
    # The dataset outside the project was staged into the state folder for the containers.
    assert list((tmp_path / "state" / "staged").rglob("churn.csv"))
    assert containers(docker_engine, f"label={RUN_LABEL}") == []


def test_an_interrupted_docker_run_stops_its_container(
    docker_engine: str, kfops_images: dict[str, str], project: Path, tmp_path: Path
) -> None:
    stderr = tmp_path / "stderr"
    with stderr.open("wb") as err:
        run = subprocess.Popen(
            [KFOPS, "run", "--runner", "docker", "--config", str(project)],
            stdout=subprocess.DEVNULL,
            stderr=err,
            env=ENV,
        )
    try:
        deadline = time.monotonic() + 600
        while not containers(
            docker_engine, f"label={RUN_LABEL}", f"ancestor={kfops_images['tfdv']}"
        ):
            assert run.poll() is None, stderr.read_text()[-3000:]
            assert time.monotonic() < deadline, "validate never started in its container"
            time.sleep(0.2)
        run.send_signal(signal.SIGINT)
        assert run.wait(timeout=120) == 130
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    said = [line for line in stderr.read_text().splitlines() if "interrupted" in line]
    assert said == [
        "kfops: run interrupted by SIGINT during validate; the step was stopped and nothing it "
        "did is cached; run again to resume from the cache"
    ]
    deadline = time.monotonic() + 30
    while containers(docker_engine, f"label={RUN_LABEL}"):
        assert time.monotonic() < deadline, "a container of the interrupted run is left"
        time.sleep(0.5)


def test_stopping_a_run_removes_its_containers_that_never_started(
    docker_engine: str, kfops_images: dict[str, str]
) -> None:
    """A signal between a container's creation and its start leaves it created, where
    auto-remove never fires: stopping the run removes it too (and only the run's own)."""
    import docker

    from kfops.runners.containers import run_containers, stop_run_containers

    client = docker.from_env()
    mine = client.containers.create(
        kfops_images["kfops"], ["true"], labels={RUN_LABEL: "run-under-test"}
    )
    other = client.containers.create(kfops_images["kfops"], ["true"], labels={RUN_LABEL: "other"})
    try:
        assert run_containers("run-under-test") == [mine.name]
        assert stop_run_containers("run-under-test") == 1
        assert run_containers("run-under-test") == []
        assert run_containers("other") == [other.name]
    finally:
        other.remove(force=True)
        with contextlib.suppress(docker.errors.NotFound):
            mine.remove(force=True)
