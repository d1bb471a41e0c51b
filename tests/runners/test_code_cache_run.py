"""A real ``kfops run`` on a copy of kfops: after an edit to the train step's module the
next run runs train again (and the edited code with it), and no step before it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kfops.validation import runtime

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not runtime.tfdv_importable() and not runtime.tfdv_python().is_file(),
        reason="the TFDV runtime is not set up (make setup)",
    ),
]

REPO = Path(__file__).resolve().parents[2]
KFOPS = str(Path(sys.executable).with_name("kfops"))
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "compiled")


def steps(stdout: str) -> dict[str, str]:
    """Step -> ``ran`` or ``cached``, from the run's progress lines."""
    marks = {"✓": "ran", "↺": "cached", "✗": "failed"}
    return {line.split()[1]: marks[line[:1]] for line in stdout.splitlines() if line[:1] in marks}


@pytest.fixture
def source(tmp_path: Path) -> Path:
    """kfops, components and pipelines copied: the steps import these, edits and all."""
    src = tmp_path / "src"
    for package in ("kfops", "components", "pipelines"):
        shutil.copytree(REPO / package, src / package, ignore=IGNORE)
    return src


def test_an_edit_to_the_train_module_reruns_train_and_nothing_before(
    source: Path, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": str(source),
        "KFOPS_TFDV_PYTHON": str(runtime.tfdv_python()),
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "COLUMNS": "200",
    }
    command = [
        KFOPS,
        "run",
        "--config",
        str(REPO / "examples" / "churn" / "kfops.yaml"),
        "--set",
        f"runtime.root={tmp_path / 'state'}",
    ]

    def run() -> subprocess.CompletedProcess[str]:
        # Not from the checkout: a step runs ``python -m``, so its folder leads sys.path.
        return subprocess.run(
            command, capture_output=True, text=True, env=env, timeout=900, cwd=tmp_path
        )

    first = run()
    assert first.returncode == 0, first.stdout + first.stderr
    assert set(steps(first.stdout).values()) == {"ran"}
    log = next((tmp_path / "state" / "runs").glob("*/pipeline.log")).read_text()
    assert "kfops-progress validate: TFDV statistics of the train and test splits" in log
    assert "kfops-progress train: fitting sklearn.ensemble.RandomForestClassifier on" in log
    second = run()
    assert second.returncode == 0, second.stderr
    assert set(steps(second.stdout).values()) == {"cached"}

    train = source / "kfops" / "steps" / "train.py"
    train.write_text(
        train.read_text()
        + "\n\ndef run_train(*args, **kwargs):\n"
        + "    from kfops.errors import TrainingError\n\n"
        + "    raise TrainingError('the edited train step ran')\n"
    )
    edited = run()
    assert edited.returncode != 0
    assert "the edited train step ran" in edited.stderr
    ran = steps(edited.stdout)
    assert {ran["ingest"], ran["features"], ran["validate"]} == {"cached"}
    assert ran["train"] == "failed"
