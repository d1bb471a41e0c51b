"""Helm values for seldon-core-analytics: its Prometheus and Grafana, wired to kfops.

The chart bundles the prometheus-community ``prometheus`` chart and the ``grafana`` chart
(no Prometheus Operator, so no PodMonitor or PrometheusRule). The values point its
Prometheus at the subchart's own configuration (``serverFiles``), with kfops' rules and
scrape jobs that find the same pods the PodMonitors find (and name the jobs the same, so
``up{job=...}`` in the rules holds), and turn Grafana's dashboard sidecar to the label the
dashboard ConfigMaps carry, in every namespace.
"""

from __future__ import annotations

from typing import Any

from kfops.monitoring.objects import COMPONENT, DASHBOARD_FOLDER, DASHBOARD_LABEL
from kfops.monitoring.rules import MonitoringSettings

CONFIG_DIR = "/etc/config"


def _label(name: str) -> str:
    """The service-discovery meta label of a pod label (``app.kubernetes.io/name`` ->
    ``__meta_kubernetes_pod_label_app_kubernetes_io_name``)."""
    return "__meta_kubernetes_pod_label_" + "".join(c if c.isalnum() else "_" for c in name)


def _pod_job(
    job: str, labels: dict[str, str], port: tuple[str, str], namespaces: list[str] | None = None
) -> dict[str, Any]:
    keep = {**labels, COMPONENT: job}
    discovery: dict[str, Any] = {"role": "pod"}
    if namespaces:
        discovery["namespaces"] = {"names": namespaces}
    port_label, port_value = port
    return {
        "job_name": job,
        "scrape_interval": "30s",
        "metrics_path": "/metrics",
        "kubernetes_sd_configs": [discovery],
        "relabel_configs": [
            {
                "source_labels": [_label(name) for name in keep],
                "regex": ";".join(keep.values()),
                "action": "keep",
            },
            {
                "source_labels": [f"__meta_kubernetes_pod_container_port_{port_label}"],
                "regex": port_value,
                "action": "keep",
            },
            {"source_labels": ["__meta_kubernetes_namespace"], "target_label": "namespace"},
            {"source_labels": ["__meta_kubernetes_pod_name"], "target_label": "pod"},
        ],
    }


def scrape_configs(settings: MonitoringSettings) -> list[dict[str, Any]]:
    return [
        _pod_job(
            settings.server_job, {"app.kubernetes.io/part-of": "kfops"},
            ("number", str(settings.server_port)),
        ),
        _pod_job(
            settings.operator_job, {"app.kubernetes.io/name": "kfops"}, ("name", "metrics"),
            [settings.operator_namespace],
        ),
        _pod_job(
            "router", {"app.kubernetes.io/name": "kfops"},
            ("number", str(settings.router_port)),
        ),
    ]  # fmt: skip


def helm_values(settings: MonitoringSettings, groups: list[dict[str, Any]]) -> dict[str, Any]:
    recording = [_only(group, "record") for group in groups]
    alerting = [_only(group, "alert") for group in groups]
    return {
        "prometheus": {
            "server": {"configPath": f"{CONFIG_DIR}/prometheus.yml"},
            "serverFiles": {
                "recording_rules.yml": {"groups": [g for g in recording if g["rules"]]},
                "alerting_rules.yml": {"groups": [g for g in alerting if g["rules"]]},
                "prometheus.yml": {
                    "rule_files": [
                        f"{CONFIG_DIR}/recording_rules.yml",
                        f"{CONFIG_DIR}/alerting_rules.yml",
                    ],
                    "scrape_configs": scrape_configs(settings),
                },
            },
        },
        "grafana": {
            "sidecar": {
                "dashboards": {
                    "enabled": True,
                    "label": next(iter(DASHBOARD_LABEL)),
                    "labelValue": next(iter(DASHBOARD_LABEL.values())),
                    "searchNamespace": "ALL",
                    "folderAnnotation": next(iter(DASHBOARD_FOLDER)),
                    "provider": {"foldersFromFilesStructure": True},
                }
            }
        },
    }


def _only(group: dict[str, Any], key: str) -> dict[str, Any]:
    return {**group, "rules": [rule for rule in group["rules"] if key in rule]}
