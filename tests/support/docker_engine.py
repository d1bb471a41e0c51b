"""A Docker engine and kfops' images for the tests that run containers (a pytest plugin).

On this kind of machine no engine runs until someone starts one: the session starts it
with scripts/docker-engine.sh when it can (root, Debian's docker.io), and stops it at the
end only if it started it. The images are built once a session by scripts/images.sh (the
same script as `make images`; its layers are cached by the engine). Tests that need
either skip, with the reason, only where no engine can run.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ENGINE = REPO / "scripts" / "docker-engine.sh"
IMAGES = REPO / "scripts" / "images.sh"
KFOPS = str(Path(sys.executable).with_name("kfops"))


def docker_cli() -> str | None:
    """The docker.io package's client (another docker on PATH may lack BuildKit)."""
    listed = subprocess.run(["dpkg", "-L", "docker.io"], capture_output=True, text=True)
    for line in listed.stdout.splitlines():
        if line.endswith("/bin/docker"):
            return line
    return None


@pytest.fixture(scope="session")
def docker_engine() -> Iterator[str]:
    """The docker client's path, with an engine answering it."""
    cli = docker_cli()
    if cli is None:
        pytest.skip("no Docker engine can run here: Debian's docker.io is not installed")
    started = subprocess.run(["bash", str(ENGINE), "start"], capture_output=True, text=True)
    if started.returncode != 0:
        pytest.skip(f"no Docker engine can run here: {started.stderr.strip()}")
    try:
        yield cli
    finally:
        if started.stdout.strip() == "started":
            subprocess.run(["bash", str(ENGINE), "stop"], check=False)


@pytest.fixture(scope="session")
def kfops_images(docker_engine: str) -> dict[str, str]:
    """Build kfops' images (cached layers make a re-build quick); {'kfops': tag, 'tfdv': tag}."""
    built = subprocess.run(["bash", str(IMAGES)], cwd=REPO, capture_output=True, text=True)
    assert built.returncode == 0, f"make images failed:\n{built.stdout}\n{built.stderr[-4000:]}"
    sys.stdout.write(built.stdout)  # build times and sizes, in the test log
    shown = subprocess.run(
        [KFOPS, "images", "--json", "--config", str(REPO / "examples/churn/kfops.yaml")],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(shown.stdout)["builds"]
