"""The training pipeline with a ``serving:`` section on the local runner: deploy runs after
the won gate, sends nothing to any Kubernetes API (a kubeconfig points at a recording
server, which must stay silent) and says how to try the version on this machine."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from kfops.steps.deploy import IN_POD_ENV
from tests.support.recording import recording

pytestmark = pytest.mark.slow

# The runner is driven the way `kfops run` drives it, with the graph the config asks for.
RUN = """
import json, sys
from functools import partial
from kfops.config import load_config
from kfops.runners.local import run_pipeline_locally
from pipelines.training import build_training_pipeline, graph_options

cfg = load_config(sys.argv[1], overrides=sys.argv[2:])
run = run_pipeline_locally(cfg, partial(build_training_pipeline, **graph_options(cfg)))
steps = [[event.step, event.status.value] for event in run.events]
print(json.dumps({"steps": steps, "log": str(run.log_path), "outputs": run.outputs}))
"""


def test_a_local_run_with_serving_skips_the_cluster(repo: Path, tmp_path: Path) -> None:
    with recording() as api:
        kubeconfig = tmp_path / "kubeconfig"
        kubeconfig.write_text(
            yaml.safe_dump(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "clusters": [{"name": "c", "cluster": {"server": api.url}}],
                    "users": [{"name": "u", "user": {"token": "t"}}],
                    "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                    "current-context": "x",
                }
            )
        )
        env = {k: v for k, v in os.environ.items() if k != IN_POD_ENV}
        env.update(KUBECONFIG=str(kubeconfig), MLFLOW_DISABLE_TELEMETRY="true")
        done = subprocess.run(
            [
                sys.executable,
                "-c",
                RUN,
                str(repo / "examples" / "churn" / "kfops.yaml"),
                f"runtime.root={tmp_path / 'state'}",
                f"data.path={repo / 'tests' / 'fixtures' / 'churn_small.csv'}",
                "validation.enabled=false",
                "model.params.n_estimators=10",
                "serving={namespace: team, ready_timeout_seconds: 5}",
            ],
            capture_output=True,
            text=True,
            timeout=600,
            cwd=repo,
            env=env,
        )
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        assert api.requests == [], "the local run reached the Kubernetes API"
    result = json.loads(done.stdout.strip().splitlines()[-1])
    steps = [step for step, status in result["steps"] if status == "succeeded"]
    assert steps[-2:] == ["promote", "deploy"], result["steps"]
    assert result["outputs"]["decision"] == "promote"
    log = Path(result["log"]).read_text()
    assert "deploy skipped: not in a Kubernetes pod" in log
    assert "`kfops rollout start`" in log
