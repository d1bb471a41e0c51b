"""manifests/monitoring: what `kfops monitoring render` writes, valid for the tools that
read it (kustomize, the Prometheus Operator's CRDs, Grafana's sidecar, the Helm chart's
Prometheus)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from kfops.monitoring import objects
from kfops.monitoring.dashboards import dashboards
from kfops.monitoring.render import OBJECT_FILES, files, write
from kfops.monitoring.rules import MonitoringSettings, rule_groups
from tests.monitoring.conftest import MONITORING, run_promtool

VALIDATE = MONITORING.parents[2] / "shared" / "schemas" / "validate.py"


def test_the_committed_files_are_the_rendered_ones() -> None:
    rendered = files()
    committed = {
        str(path.relative_to(MONITORING)): path.read_text()
        for path in MONITORING.rglob("*")
        if path.is_file()
    }
    stale = sorted(name for name in rendered.keys() | committed.keys()
                   if rendered.get(name) != committed.get(name))  # fmt: skip
    assert not stale, (
        f"manifests/monitoring is stale ({', '.join(stale)}): run "
        "kfops monitoring render --out manifests/monitoring"
    )


def test_write_renders_every_file_and_replaces_old_ones(tmp_path: Path) -> None:
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "kfops-drift.yaml").write_text("old\n")
    written = write(tmp_path)
    assert sorted(str(p.relative_to(tmp_path)) for p in written) == sorted(files())
    assert (tmp_path / "rules" / "kfops-drift.yaml").read_text() == files()[
        "rules/kfops-drift.yaml"
    ]
    assert not [p for p in tmp_path.rglob(".*") if p.is_file()]  # no temporary files left


def test_the_prometheus_rule_holds_every_group() -> None:
    (rule,) = yaml.safe_load_all((MONITORING / "prometheusrule.yaml").read_text())
    assert rule["kind"] == "PrometheusRule"
    assert rule["spec"]["groups"] == rule_groups()
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"


def test_the_monitors_name_their_jobs_as_the_rules_expect() -> None:
    settings = MonitoringSettings()
    monitors = {m["metadata"]["name"]: m for m in objects.pod_monitors(settings)}
    server = monitors["kfops-model-server"]["spec"]
    assert server["jobLabel"] == objects.COMPONENT
    assert server["selector"]["matchLabels"][objects.COMPONENT] == settings.server_job
    assert server["namespaceSelector"] == {"any": True}
    assert server["podMetricsEndpoints"][0]["portNumber"] == 8080
    operator = monitors["kfops-rollout-operator"]["spec"]
    assert operator["selector"]["matchLabels"][objects.COMPONENT] == settings.operator_job
    assert operator["podMetricsEndpoints"][0]["port"] == "metrics"


def test_the_operator_monitor_selects_the_operator_deployment_and_its_metrics_port() -> None:
    base = MONITORING.parent / "base" / "rollout-operator.yaml"
    (deployment,) = [d for d in yaml.safe_load_all(base.read_text()) if d["kind"] == "Deployment"]
    pod = deployment["spec"]["template"]
    (monitor,) = [m for m in objects.pod_monitors(MonitoringSettings())
                  if m["metadata"]["name"] == "kfops-rollout-operator"]  # fmt: skip
    assert monitor["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
    assert monitor["spec"]["namespaceSelector"]["matchNames"] == [
        deployment["metadata"]["namespace"]
    ]
    (container,) = pod["spec"]["containers"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports["metrics"] == 8081


def test_the_model_server_monitor_selects_kfops_inference_services() -> None:
    from kfops.config import ServingConfig
    from kfops.serving.manifests import PORT, inference_service
    from tests.serving.test_manifests import spec

    isvc = inference_service(spec())
    labels = {**isvc["metadata"]["labels"], **isvc["spec"]["predictor"].get("labels", {})}
    (monitor,) = [m for m in objects.pod_monitors(MonitoringSettings())
                  if m["metadata"]["name"] == "kfops-model-server"]  # fmt: skip
    assert monitor["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert monitor["spec"]["podMetricsEndpoints"][0]["portNumber"] == PORT
    assert ServingConfig().port == PORT


def test_dashboards_are_config_maps_for_grafanas_sidecar() -> None:
    maps = list(yaml.safe_load_all((MONITORING / "dashboards.yaml").read_text()))
    assert [m["metadata"]["name"] for m in maps] == [
        "kfops-dashboard-serving", "kfops-dashboard-rollout", "kfops-dashboard-drift",
    ]  # fmt: skip
    for config_map in maps:
        assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
        ((name, text),) = config_map["data"].items()
        assert text == (MONITORING / "dashboards" / name).read_text()
        board = json.loads(text)
        assert board["uid"] == name.removesuffix(".json") and board["panels"]


def test_dashboard_panels_have_unique_ids_and_a_prometheus_datasource() -> None:
    for board in dashboards().values():
        ids = [panel["id"] for panel in board["panels"]]
        assert len(ids) == len(set(ids)) and 0 not in ids
        for panel in board["panels"]:
            if panel["type"] != "row":
                assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
                assert panel["targets"], panel["title"]


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_the_kustomization_builds_every_object() -> None:
    done = subprocess.run(
        ["kubectl", "kustomize", str(MONITORING)],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    kinds = sorted(d["kind"] for d in yaml.safe_load_all(done.stdout) if d)
    assert kinds == ["ConfigMap"] * 3 + ["PodMonitor"] * 3 + ["PrometheusRule"]
    listed = yaml.safe_load((MONITORING / "kustomization.yaml").read_text())["resources"]
    assert listed == list(OBJECT_FILES)


@pytest.mark.skipif(not VALIDATE.is_file(), reason="../shared/schemas is not here")
def test_the_objects_validate_against_the_prometheus_operator_crds() -> None:
    done = subprocess.run(
        [sys.executable, str(VALIDATE), "--fail-on-unknown",
         *(str(MONITORING / name) for name in OBJECT_FILES)],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("OK ") == 7, done.stdout


def test_seldon_core_analytics_values_carry_the_rules_and_the_dashboard_label(
    promtool: str, tmp_path: Path
) -> None:
    text = (MONITORING / "seldon-core-analytics-values.yaml").read_text()
    values = yaml.safe_load(text)
    server_files = values["prometheus"]["serverFiles"]
    recorded = [r for g in server_files["recording_rules.yml"]["groups"] for r in g["rules"]]
    alerts = [r for g in server_files["alerting_rules.yml"]["groups"] for r in g["rules"]]
    every = [r for g in rule_groups() for r in g["rules"]]
    assert sorted(map(str, recorded + alerts)) == sorted(map(str, every))
    sidecar = values["grafana"]["sidecar"]["dashboards"]
    assert {sidecar["label"]: sidecar["labelValue"]} == objects.DASHBOARD_LABEL
    assert sidecar["searchNamespace"] == "ALL"

    # The Prometheus configuration the chart would mount, checked by promtool.
    config = server_files["prometheus.yml"]
    assert values["prometheus"]["server"]["configPath"] == "/etc/config/prometheus.yml"
    for name in ("recording_rules.yml", "alerting_rules.yml"):
        (tmp_path / name).write_text(yaml.safe_dump(server_files[name]))
    config["rule_files"] = [str(tmp_path / Path(p).name) for p in config["rule_files"]]
    # Debian builds Prometheus without Kubernetes discovery: the relabelling and everything
    # else is checked with a static target in its place.
    for job in config["scrape_configs"]:
        assert job.pop("kubernetes_sd_configs")[0]["role"] == "pod"
        job["static_configs"] = [{"targets": ["127.0.0.1:8080"]}]
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    done = run_promtool(promtool, "check", "config", tmp_path / "prometheus.yml")
    assert done.returncode == 0, done.stdout + done.stderr
    jobs = [job["job_name"] for job in config["scrape_configs"]]
    settings = MonitoringSettings()
    assert jobs == [settings.server_job, settings.operator_job, "router"]
