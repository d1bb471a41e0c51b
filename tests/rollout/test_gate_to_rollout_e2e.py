"""From a winning run to traffic, with real parts: `kfops run` (kfp.local, TFDV, MLflow)
registers a weak first version, which becomes champion at once; a better second run only
becomes challenger (rollout: is set, so the gate leaves champion to the rollout); then
`kfops rollout start` with no version flags compares champion with challenger on traffic
replayed from the dataset (real servers, router and Prometheus), and its success moves
champion."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.e2e.conftest import kfops, registry, rollout_project
from tests.support.prometheus import prometheus_binary
from tests.support.rollout_world import CANDIDATE_ERROR_RATE

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(prometheus_binary() is None, reason="needs prometheus (apt-get install)"),
]
MODEL = "churn-classifier"


def aliases(state: Path) -> dict[str, str]:
    return {k: str(v) for k, v in registry(state).get_registered_model(MODEL).aliases.items()}


@pytest.fixture
def project(tmp_path: Path, repo: Path) -> Path:
    """The bundled churn example, with a short canary (50 %, then one analysis)."""
    rollout = {"analysisTemplates": [{"name": "error-rate", "metrics": [CANDIDATE_ERROR_RATE]}],
               "strategy": {"canary": {"steps": [
                   {"setWeight": 50},
                   {"analysis": {"templates": [{"templateName": "error-rate"}]}}]}}}  # fmt: skip
    return rollout_project(tmp_path, repo, rollout)


def test_a_winning_run_becomes_a_canary_and_its_success_moves_champion(project: Path) -> None:
    state = project.parent.parent / "state"
    began = time.monotonic()
    weak = kfops("run", "-c", str(project), "--set", "model.estimator=sklearn.dummy.DummyClassifier",
                 "--set", "model.params={strategy: prior}")  # fmt: skip
    assert weak.code == 0, weak.output
    assert "version 1: promoted to champion" in weak.stdout  # no champion yet: nothing to compare
    assert aliases(state) == {"champion": "1", "challenger": "1"}

    better = kfops("run", "-c", str(project))
    assert better.code == 0, better.output
    assert "version 2: passed the gate: challenger, its rollout decides" in better.stdout
    assert aliases(state) == {"champion": "1", "challenger": "2"}
    trained = time.monotonic()

    data = project.parent / "data" / "churn.csv"
    rollout = kfops("rollout", "start", "-c", str(project), "--interval", "0.5", "--replay",
                    str(data), "--replay-rate", "25")  # fmt: skip
    assert rollout.code == 0, rollout.output
    assert "serving stable v1 and candidate v2" in rollout.output
    assert "send requests to the router: POST http://127.0.0.1:" in rollout.output
    assert "rollout complete: version 2 takes 100% and alias 'champion'" in rollout.output
    assert aliases(state) == {"champion": "2", "challenger": "2"}
    shown = kfops("rollout", "get", "churn", "-c", str(project), "--json")
    status = json.loads(shown.stdout)["status"]
    assert (status["phase"], status["gateDecision"], status["gateForced"]) == (
        "Healthy",
        "promote",
        False,
    )
    print(f"\ntwo runs {trained - began:.1f} s, rollout {time.monotonic() - trained:.1f} s")
