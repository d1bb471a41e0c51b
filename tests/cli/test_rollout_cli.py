"""``kfops rollout …`` on a local rollout (real router, real MLflow store), and
``kubectl-kfops`` against a recorded Kubernetes API through a kubeconfig."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import yaml
from typer.testing import CliRunner

from kfops.cli.main import app
from kfops.config import load_config
from kfops.config.rollout import RolloutPlan
from kfops.errors import ConfigurationError, RolloutError
from kfops.rollout.backends.aliases import MlflowAliases
from kfops.rollout.drivers.controller import local_tick
from kfops.rollout.drivers.local_rollout import local_world
from kfops.rollout.drivers.operator import COMMAND_ANNOTATION
from kfops.rollout.drivers.store import LocalRolloutStore, RolloutRecord
from kfops.rollout.engine.actions import MoveAlias
from kfops.rollout.engine.status import RolloutStatus
from kfops.rollout.router.proxy import start_router
from tests.support.http_server import json_server
from tests.support.recording import recording

STEPS = [{"setWeight": 25}, {"pause": {}}, {"setWeight": 75}, {"pause": {}}]
runner = CliRunner()


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A real MLflow store with versions 1 and 2 of 'churn', champion on 1."""
    import mlflow
    from mlflow import MlflowClient

    root = tmp_path_factory.mktemp("registry")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    client.create_registered_model("churn")
    for _ in range(2):
        with mlflow.start_run() as run:
            mlflow.log_dict({"x": 1}, "model/info.json")
        client.create_model_version("churn", f"{run.info.artifact_uri}/model", run.info.run_id)
    client.set_registered_model_alias("churn", "champion", "1")
    return uri


@pytest.fixture
def local(tmp_path: Path, registry: str):
    """A config, a router over a stand-in upstream, and a rollout at its first pause."""
    config = tmp_path / "kfops.yaml"
    config.write_text(yaml.safe_dump({
        "project": "churn", "data": {"path": "unused.csv", "target": "churned"},
        "runtime": {"root": str(tmp_path)}, "tracking": {"uri": registry},
    }))  # fmt: skip
    with (
        json_server(lambda request: (200, {"predictions": [0]})) as upstream,
        start_router(upstream, upstream) as router,
    ):
        plan = RolloutPlan.model_validate({"strategy": {"canary": {"steps": STEPS}},
                                           "traffic": {"routerUrl": router.url}})  # fmt: skip
        spec = plan.resolve("churn", "1", "2")
        store = LocalRolloutStore(tmp_path)
        store.save(RolloutRecord(name="churn", spec=spec, status=RolloutStatus.initial(spec)))
        local_tick(store, "churn", local_world(load_config(config), store.load("churn")))
        yield config, router.url, store
    MlflowAliases(registry).apply(MoveAlias("churn", "champion", "1"))


def kfops(*args: str):
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def weight(router_url: str) -> int:
    return httpx.get(router_url + "/router/traffic").json()["candidateWeight"]


def test_get_shows_the_tree_and_json(local) -> None:
    config, router_url, _ = local
    code, out = kfops("rollout", "get", "churn", "-c", str(config))
    assert code == 0, out
    assert "stable v1 → candidate v2" in out and "Paused" in out and "setWeight 75" in out
    code, out = kfops("rollout", "get", "churn", "-c", str(config), "--json")
    assert code == 0 and json.loads(out)["status"]["canaryWeight"] == 25
    assert weight(router_url) == 25


def test_promote_abort_retry_and_full_promotion_move_real_traffic(local, registry) -> None:
    config, router_url, store = local
    assert kfops("rollout", "promote", "churn", "-c", str(config))[0] == 0
    assert weight(router_url) == 75
    assert kfops("rollout", "abort", "churn", "-c", str(config))[0] == 0
    assert weight(router_url) == 0 and store.load("churn").status.abort
    code, out = kfops("rollout", "promote", "churn", "-c", str(config))
    assert code == RolloutError.exit_code and "aborted" in out and "retry" in out
    assert kfops("rollout", "retry", "churn", "-c", str(config))[0] == 0
    assert weight(router_url) == 25
    code, out = kfops("rollout", "promote", "churn", "--full", "-c", str(config))
    assert code == 0, out
    assert weight(router_url) == 100
    assert MlflowAliases(registry).version("churn", "champion") == "2"
    assert "Healthy" in out
    code, out = kfops("rollout", "undo", "churn", "-c", str(config))
    assert code == 0, out
    assert weight(router_url) == 0
    assert MlflowAliases(registry).version("churn", "champion") == "1"


def test_set_weight_holds_until_resume(local) -> None:
    config, router_url, store = local
    assert kfops("rollout", "set-weight", "churn", "60", "-c", str(config))[0] == 0
    assert weight(router_url) == 60
    assert kfops("rollout", "resume", "churn", "-c", str(config))[0] == 0
    assert weight(router_url) == 25
    code, out = kfops("rollout", "set-weight", "churn", "150", "-c", str(config))
    assert code == ConfigurationError.exit_code and "outside 0..100" in out


def test_unknown_rollouts_and_timelines(local) -> None:
    config, _, store = local
    code, out = kfops("rollout", "get", "nope", "-c", str(config))
    assert code == RolloutError.exit_code and "no rollout 'nope'" in out and "known: churn" in out
    code, out = kfops("rollout", "timeline", "churn", "-c", str(config))
    assert code == 0
    assert (store.folder / "churn-timeline.png").read_bytes()[:4] == b"\x89PNG"
    listed = runner.invoke(app, ["rollout", "list", "-c", str(config), "--json"])
    assert listed.exit_code == 0, listed.output
    assert json.loads(listed.stdout) == {"rollouts": [{"name": "churn", "phase": "Paused",
        "step": 1, "weight": 25, "stable": "1", "candidate": "2"}]}  # fmt: skip
    code, out = kfops("rollout", "list", "-c", str(config))
    assert code == 0 and out.splitlines()[1].split("\t") == ["churn", "Paused", "1", "25", "1", "2"]


def test_start_needs_a_rollout_section(tmp_path: Path, registry: str) -> None:
    config = tmp_path / "kfops.yaml"
    config.write_text(yaml.safe_dump({
        "project": "churn", "data": {"path": "unused.csv", "target": "churned"},
        "runtime": {"root": str(tmp_path)}, "tracking": {"uri": registry},
    }))  # fmt: skip
    code, out = kfops("rollout", "start", "-c", str(config))
    assert code == ConfigurationError.exit_code and "no 'rollout:' section" in out


CR = {
    "apiVersion": "rollouts.kfops.io/v1alpha1",
    "kind": "ModelRollout",
    "metadata": {"name": "churn", "namespace": "ml", "annotations": {}},
    "spec": {"model": "churn", "stable": {"version": "1"}, "candidate": {"version": "2"},
             "strategy": {"canary": {"steps": STEPS}}},
    "status": {"phase": "Paused", "currentStepIndex": 1, "canaryWeight": 25,
               "specFingerprint": "x"},
}  # fmt: skip


@pytest.mark.slow
def test_kubectl_plugin_annotates_the_modelrollout(tmp_path: Path) -> None:
    with recording(lambda request: (200, CR)) as api:
        kubeconfig = tmp_path / "kubeconfig"
        kubeconfig.write_text(yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config", "current-context": "test",
            "clusters": [{"name": "test", "cluster": {"server": api.url}}],
            "contexts": [{"name": "test", "context": {"cluster": "test", "user": "test"}}],
            "users": [{"name": "test", "user": {"token": "t"}}],
        }))  # fmt: skip
        plugin = str(Path(sys.executable).parent / "kubectl-kfops")
        env = {**os.environ, "KUBECONFIG": str(kubeconfig)}
        run = subprocess.run([plugin, "rollout", "promote", "churn", "-n", "ml", "--full"],
                             capture_output=True, text=True, env=env, timeout=120)  # fmt: skip
        assert run.returncode == 0, run.stderr
        method, path, content_type, body = api.sent()[-1]
        assert (method, path) == ("PATCH", "/apis/rollouts.kfops.io/v1alpha1/namespaces/ml/"
                                           "modelrollouts/churn")  # fmt: skip
        assert content_type == "application/merge-patch+json"
        request = json.loads(body["metadata"]["annotations"][COMMAND_ANNOTATION])
        assert request["command"] == "promote" and request["arguments"] == {"full": True}
        assert len(request["id"]) == 12
        got = subprocess.run([plugin, "rollout", "get", "churn", "-n", "ml"],
                             capture_output=True, text=True, env=env, timeout=120)  # fmt: skip
        assert got.returncode == 0, got.stderr
        assert "Paused" in got.stdout and "setWeight 25" in got.stdout


def test_start_refuses_a_challenger_the_gate_rejected(tmp_path: Path) -> None:
    """One line naming the version and its decision, and nothing started or written."""
    from mlflow import MlflowClient

    from kfops.registry.champion import DECISION_TAG

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    client.create_registered_model("churn")
    experiment = client.create_experiment("gate", artifact_location=(tmp_path / "a").as_uri())
    for alias, decision in (("champion", "promote"), ("challenger", "keep")):
        run = client.create_run(experiment)
        version = client.create_model_version(
            "churn", f"{run.info.artifact_uri}/m", run.info.run_id
        )
        client.set_model_version_tag("churn", version.version, DECISION_TAG, decision)
        client.set_registered_model_alias("churn", alias, version.version)
    config = tmp_path / "kfops.yaml"
    config.write_text(yaml.safe_dump({
        "project": "churn", "data": {"path": "unused.csv", "target": "churned"},
        "runtime": {"root": str(tmp_path)}, "tracking": {"uri": uri},
        "registry": {"model_name": "churn"},
        "rollout": {"strategy": {"canary": {"steps": STEPS}}},
    }))  # fmt: skip
    code, out = kfops("rollout", "start", "-c", str(config))
    assert code == RolloutError.exit_code, out
    assert (
        out.strip()
        .replace("\n", " ")
        .endswith(
            "churn v2 is no candidate: its gate decision is keep, not promote; roll out a version "
            "that passed the gate, or pass --force to try it anyway"
        )
    )
    assert not LocalRolloutStore(tmp_path).exists("churn")
