"""``kubectl-kfops`` behaves like a kubectl plugin: kubeconfig first, the context's namespace,
``--context`` and ``--kubeconfig``, and no verbs that only make sense on this machine.

Real kubeconfig files written by the tests, read by the real ``kubernetes`` library; the API
server is a recording stand-in (no cluster).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from kfops.cli.rollout import LOCAL_VERBS, TARGET_ENV, kubectl_app
from kfops.cluster import kube_client
from kfops.cluster.kube_client import api_client, current_namespace
from kfops.errors import ClusterError, ConfigurationError
from kfops.rollout.drivers.operator import COMMAND_ANNOTATION
from tests.support.recording import Recorder, recording

ROLLOUT = "/apis/rollouts.kfops.io/v1alpha1/namespaces/{ns}/modelrollouts/churn"
CR = {
    "apiVersion": "rollouts.kfops.io/v1alpha1", "kind": "ModelRollout",
    "metadata": {"name": "churn", "namespace": "ml", "annotations": {}},
    "spec": {"model": "churn", "stable": {"version": "1"}, "candidate": {"version": "2"},
             "strategy": {"canary": {"steps": [{"setWeight": 25}, {"pause": {}}]}}},
}  # fmt: skip


def write_kubeconfig(path: Path, server: str, current: str = "dev") -> Path:
    """Three contexts on one server: dev (namespace ml), prod (namespace prod-ml), bare."""
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": current,
        "clusters": [{"name": "c", "cluster": {"server": server}}],
        "contexts": [
            {"name": "dev", "context": {"cluster": "c", "user": "u", "namespace": "ml"}},
            {"name": "prod", "context": {"cluster": "c", "user": "u", "namespace": "prod-ml"}},
            {"name": "bare", "context": {"cluster": "c", "user": "u"}},
        ],
        "users": [{"name": "u", "user": {"token": "t"}}],
    }))  # fmt: skip
    return path


@pytest.fixture(autouse=True)
def clean_kube(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No developer kubeconfig, no pod; the client's global configuration restored after."""
    from kubernetes import client

    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setattr(kube_client, "POD_NAMESPACE_FILE", tmp_path / "no-pod-namespace")
    yield
    client.Configuration.set_default(None)


@pytest.fixture
def api() -> Iterator[Recorder]:
    with recording(lambda request: (200, CR)) as recorder:
        yield recorder


def test_namespace_comes_from_the_current_or_named_context(tmp_path: Path):
    config = write_kubeconfig(tmp_path / "kubeconfig", "http://127.0.0.1:1")
    assert current_namespace(config_file=config) == "ml"
    assert current_namespace("prod", config) == "prod-ml"
    assert current_namespace("bare", config) == "default"
    with pytest.raises(ClusterError, match="no context 'nope'; contexts: dev, prod, bare"):
        current_namespace("nope", config)


def test_namespace_without_kubeconfig_is_the_pods_then_default(tmp_path: Path, monkeypatch):
    assert current_namespace() == "default"
    pod_file = tmp_path / "namespace"
    pod_file.write_text("team-a\n")
    monkeypatch.setattr(kube_client, "POD_NAMESPACE_FILE", pod_file)
    assert current_namespace() == "team-a"


def test_kubeconfig_env_is_read_when_called_not_at_import(tmp_path: Path, monkeypatch):
    config = write_kubeconfig(tmp_path / "kubeconfig", "http://127.0.0.1:1", current="prod")
    monkeypatch.setenv("KUBECONFIG", f"{tmp_path / 'missing'}{os.pathsep}{config}")
    assert current_namespace() == "prod-ml"


def test_kubeconfig_comes_before_in_cluster_credentials(tmp_path: Path, monkeypatch):
    """In a pod that also has a kubeconfig, kubectl uses the kubeconfig; so does kfops."""
    from kubernetes.config import incluster_config

    token, ca = tmp_path / "token", tmp_path / "ca.crt"
    token.write_text("pod-token")
    ca.write_text("not checked until a TLS request")
    monkeypatch.setattr(incluster_config, "SERVICE_TOKEN_FILENAME", str(token))
    monkeypatch.setattr(incluster_config, "SERVICE_CERT_FILENAME", str(ca))
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    assert api_client().configuration.host == "https://10.96.0.1:443"  # only the pod's
    config = write_kubeconfig(tmp_path / "kubeconfig", "http://127.0.0.1:7")
    monkeypatch.setenv("KUBECONFIG", str(config))
    assert api_client().configuration.host == "http://127.0.0.1:7"


def test_no_credentials_and_bad_flags_are_one_line_cluster_errors(tmp_path: Path):
    with pytest.raises(ClusterError, match="no Kubernetes credentials"):
        api_client()
    with pytest.raises(ClusterError, match="--context prod: no kubeconfig"):
        api_client(context="prod")
    with pytest.raises(ClusterError, match="no such file"):
        api_client(config_file=tmp_path / "missing")
    config = write_kubeconfig(tmp_path / "kubeconfig", "http://127.0.0.1:1")
    with pytest.raises(ClusterError, match="context 'nope'"):
        api_client(context="nope", config_file=config)


def plugin(*args: str, **env: str):
    return CliRunner().invoke(kubectl_app(), list(args), env={TARGET_ENV: "cluster", **env})


def sent_command(api: Recorder) -> tuple[str, dict]:
    method, path, _, body = api.sent()[-1]
    assert method == "PATCH"
    return path, json.loads(body["metadata"]["annotations"][COMMAND_ANNOTATION])


def test_plugin_uses_the_contexts_namespace_unless_told(api: Recorder, tmp_path: Path):
    config = write_kubeconfig(tmp_path / "kubeconfig", api.url)
    result = plugin("rollout", "pause", "churn", KUBECONFIG=str(config))
    assert result.exit_code == 0, result.output
    assert sent_command(api)[0] == ROLLOUT.format(ns="ml")
    assert "in ml" in result.stdout
    result = plugin("rollout", "resume", "churn", "--context", "prod", KUBECONFIG=str(config))
    assert result.exit_code == 0, result.output
    assert sent_command(api) == (ROLLOUT.format(ns="prod-ml"), sent_command(api)[1])
    assert sent_command(api)[1]["command"] == "resume"
    result = plugin("rollout", "abort", "churn", "-n", "other", "--context", "prod",
                    KUBECONFIG=str(config))  # fmt: skip
    assert result.exit_code == 0, result.output
    assert sent_command(api)[0] == ROLLOUT.format(ns="other")


def test_plugin_reads_the_kubeconfig_flag(api: Recorder, tmp_path: Path):
    config = write_kubeconfig(tmp_path / "elsewhere.yaml", api.url, current="bare")
    result = plugin("rollout", "get", "churn", "--kubeconfig", str(config), "--json")
    assert result.exit_code == 0, result.output
    assert api.sent()[-1][:2] == ("GET", ROLLOUT.format(ns="default"))
    assert json.loads(result.stdout)["spec"]["candidate"]["version"] == "2"


def test_plugin_offers_no_local_verbs():
    help_text = plugin("rollout", "--help").stdout
    assert "promote" in help_text and "set-weight" in help_text
    for verb in LOCAL_VERBS:
        assert f" {verb} " not in help_text, verb
        result = plugin("rollout", verb, "churn", "-n", "ml")
        assert result.exit_code == ConfigurationError.exit_code
        assert f"use 'kfops rollout {verb}' locally" in result.stderr.lower()


@pytest.mark.slow
def test_installed_plugin_finds_the_namespace_in_kubeconfig(api: Recorder, tmp_path: Path):
    config = write_kubeconfig(tmp_path / "kubeconfig", api.url)
    env = {**os.environ, "KUBECONFIG": str(config), "HOME": str(tmp_path)}
    done = subprocess.run(
        [str(Path(sys.executable).parent / "kubectl-kfops"), "rollout", "promote", "churn"],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    path, request = sent_command(api)
    assert path == ROLLOUT.format(ns="ml") and request["command"] == "promote"
