"""Feast's metrics module must not put the process's Prometheus metrics in multiprocess mode."""

import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow  # a fresh interpreter importing Feast: 10-15 s

SCRIPT = """
import os
import kfops.features.materialize  # imports feast.metrics through the guard
assert "PROMETHEUS_MULTIPROC_DIR" not in os.environ, os.environ["PROMETHEUS_MULTIPROC_DIR"]
from prometheus_client import generate_latest
from kfops.rollout.router.metrics import RouterMetrics
a, b = RouterMetrics(), RouterMetrics()
a._assignments.labels(assignment="weighted", variant="candidate").inc(5)
b._assignments.labels(assignment="weighted", variant="candidate").inc(1)
lines = [l for l in generate_latest(b.registry).decode().splitlines() if "assignments_total{" in l]
print(lines)
assert lines == ['kfops_router_assignments_total{assignment="weighted",variant="candidate"} 1.0']
"""


def test_registries_keep_their_own_counts_after_feast_is_imported() -> None:
    run = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                         timeout=300, env={"MLFLOW_DISABLE_TELEMETRY": "true", "PATH": "/usr/bin"})  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
