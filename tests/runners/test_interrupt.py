"""SIGINT and SIGTERM to a real ``kfops run``: the running step stops, its children too,
one line says so, and a second run on the same state completes.

The run is started in its own session, so every process it starts (kfp.local's step
shell, the step's Python, the TFDV runtime validate works in) carries that session's id.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest
import yaml

from kfops.validation import runtime
from tests.support.processes import live_in_session, wait_until

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not runtime.tfdv_importable() and not runtime.tfdv_python().is_file(),
        reason="the TFDV runtime is not set up (make setup)",
    ),
]

KFOPS = str(Path(sys.executable).with_name("kfops"))
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "churn"
ENV = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "COLUMNS": "200"}


def cmdline(process: psutil.Process) -> list[str]:
    try:
        return process.cmdline()
    except psutil.Error:
        return []


def running_step(step: str) -> Callable[[psutil.Process], bool]:
    """A step forked from the warm server is named ``kfops:<step>``; one started as its own
    interpreter (KFOPS_WARM_STEPS=0) names its function after --function_to_execute."""

    def marker(process: psutil.Process) -> bool:
        argv = cmdline(process)
        with contextlib.suppress(psutil.Error):
            if process.name() == f"kfops:{step}":
                return True
        return any(
            a == "--function_to_execute" and b == step for a, b in zip(argv, argv[1:], strict=False)
        )

    return marker


def tfdv_runtime(process: psutil.Process) -> bool:
    """The TFDV runtime validate uses (started by the run during ingest, or by validate)."""
    return "kfops.validation.tfdv_worker" in cmdline(process)


def validating(processes: list[psutil.Process]) -> bool:
    """Validate runs, and so does the TFDV runtime it works in."""
    return any(map(running_step("validate"), processes)) and any(map(tfdv_runtime, processes))


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the bundled example with its state in tmp_path."""
    shutil.copytree(EXAMPLE, tmp_path / "churn", ignore=shutil.ignore_patterns(".kfops"))
    config = tmp_path / "churn" / "kfops.yaml"
    document = yaml.safe_load(config.read_text())
    document["runtime"] = {"root": str(tmp_path / "state")}
    config.write_text(yaml.safe_dump(document, sort_keys=False))
    return config


def start_run(config: Path, logs: Path) -> subprocess.Popen[bytes]:
    with (logs / "stdout").open("wb") as out, (logs / "stderr").open("wb") as err:
        return subprocess.Popen(
            [KFOPS, "run", "--config", str(config)],
            stdout=out,
            stderr=err,
            env=ENV,
            start_new_session=True,
        )


@pytest.mark.parametrize(
    ("signum", "step", "marker", "code"),
    [
        (signal.SIGINT, "validate", validating, 130),
        (signal.SIGTERM, "train", lambda found: any(map(running_step("train"), found)), 143),
    ],
    ids=["SIGINT-during-validate", "SIGTERM-during-train"],
)
def test_interrupted_run_stops_its_step_and_a_rerun_completes(
    project: Path, tmp_path: Path, signum: int, step: str, marker, code: int
) -> None:
    run = start_run(project, tmp_path)
    try:
        wait_until(
            lambda: run.poll() is None and marker(live_in_session(run.pid)),
            timeout=300,
            what=f"{step} running in the run's process tree",
        )
        assert run.poll() is None, (tmp_path / "stderr").read_text()
        before = {p.pid for p in live_in_session(run.pid)} - {run.pid}
        assert before, "the step runs in processes below kfops"
        run.send_signal(signum)
        assert run.wait(timeout=120) == code
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()

    stderr = (tmp_path / "stderr").read_text()
    assert "Traceback" not in stderr
    said = [line for line in stderr.splitlines() if "interrupted" in line]
    assert said == [
        f"kfops: run interrupted by {signal.Signals(signum).name} during {step}; the step was "
        "stopped and nothing it did is cached; run again to resume from the cache"
    ]
    wait_until(
        lambda: not live_in_session(run.pid),
        timeout=30,
        what="no process of the interrupted run left",
    )

    again = subprocess.run(
        [KFOPS, "run", "--config", str(project)],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=600,
    )
    assert again.returncode == 0, again.stderr
    lines = {line.split()[1]: line for line in again.stdout.splitlines() if line[:1] in "✓↺"}
    assert lines[step].startswith("✓"), "the interrupted step runs again, not from the cache"
    assert lines["ingest"].startswith("↺"), "the steps finished before are served from cache"
    assert "promote" in lines or "register" in lines
