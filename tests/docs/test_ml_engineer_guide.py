"""docs/guides/ml-engineer.md, run: every shell block in order, from a fresh clone's root.

The blocks run in a temporary folder holding what they read of the repository
(examples/housing), with this environment's ``kfops`` and ``python`` first on PATH; a
``cd`` in one block holds for the next, as in a terminal. Each block's time is printed.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
GUIDE = REPO / "docs" / "guides" / "ml-engineer.md"
BLOCK = re.compile(r"^```sh\n(.*?)^```$", re.MULTILINE | re.DOTALL)
NEEDS_DOCKER = "# needs a Docker engine"

pytestmark = pytest.mark.slow


def blocks() -> list[str]:
    return BLOCK.findall(GUIDE.read_text())


def test_the_guide_has_its_blocks() -> None:
    found = blocks()
    assert len(found) >= 6
    assert any("kfops new step" in block for block in found)
    assert any("kfops compile" in block for block in found)


def test_every_command_of_the_guide_runs(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """The Docker blocks run last, once the engine and kfops' image are there (else skip)."""
    clone = tmp_path / "clone"
    shutil.copytree(REPO / "examples" / "housing", clone / "examples" / "housing")
    cwd_file = tmp_path / "cwd"
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "COLUMNS": "200",
    }
    env.pop("MLFLOW_TRACKING_URI", None)
    cwd = clone
    outputs, times = [], []
    ordered = sorted(blocks(), key=lambda block: block.startswith(NEEDS_DOCKER))
    for block in ordered:
        if block.startswith(NEEDS_DOCKER):
            request.getfixturevalue("kfops_images")  # skips where no engine can run
            env["KFOPS_DOCKER"] = request.getfixturevalue("docker_engine")
        started = time.monotonic()
        script = f"set -euo pipefail\n{block}\npwd > {cwd_file}\n"
        done = subprocess.run(
            ["bash", "-c", script], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
        )
        times.append(time.monotonic() - started)
        assert done.returncode == 0, f"{block}\n---\n{done.stdout}\n{done.stderr}"
        cwd = Path(cwd_file.read_text().strip())
        outputs.append(done.stdout)
    for block, seconds in zip(ordered, times, strict=True):
        commands = [line for line in block.splitlines() if line.startswith(("kfops", "python"))]
        print(f"\n{seconds:6.1f} s  {'; '.join(commands) or block.splitlines()[0]}")
    text = "\n".join(outputs)
    assert "version 1: promoted to champion" in text
    assert "✓ drop-outliers" in text, "the second run runs the new step"
    assert re.search(r"^v1: rmse \d+ \(promote\)$", text, re.MULTILINE)
    assert re.search(r"^v2: rmse \d+ \((promote|keep)\)$", text, re.MULTILINE)
    assert re.search(r"^[1-9]\d*$", text, re.MULTILINE), "compiled with the step"
    assert '"image": "ghcr.io/kfops/kfops-my-project:' in outputs[-1]
    model = cwd / ".kfops"
    assert (cwd / "build" / "training.yaml").is_file() and model.is_dir()
