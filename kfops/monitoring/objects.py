"""The Kubernetes objects that install kfops' monitoring with the Prometheus Operator.

A PrometheusRule holding every rule group; PodMonitors for the model servers (any
namespace), the rollout operator and the traffic router; one ConfigMap per dashboard,
labelled ``grafana_dashboard: "1"`` for Grafana's dashboard sidecar (kube-prometheus-stack
and the grafana chart look for that label by default). Each monitor names its job after
the pod's ``app.kubernetes.io/component`` label, which the rules' ``up{job=...}`` read.
"""

from __future__ import annotations

import json
from typing import Any

from kfops.monitoring.rules import MonitoringSettings

API_VERSION = "monitoring.coreos.com/v1"
PART_OF = {"app.kubernetes.io/name": "kfops", "app.kubernetes.io/part-of": "kfops"}
COMPONENT = "app.kubernetes.io/component"
DASHBOARD_LABEL = {"grafana_dashboard": "1"}
DASHBOARD_FOLDER = {"grafana_folder": "kfops"}


def _metadata(settings: MonitoringSettings, name: str, component: str) -> dict[str, Any]:
    return {
        "name": name,
        "namespace": settings.namespace,
        "labels": {**PART_OF, COMPONENT: component, **settings.selector_labels},
    }


def prometheus_rule(settings: MonitoringSettings, groups: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": "PrometheusRule",
        "metadata": _metadata(settings, "kfops", "monitoring"),
        "spec": {"groups": groups},
    }


def _pod_monitor(
    settings: MonitoringSettings,
    name: str,
    component: str,
    endpoint: dict[str, Any],
    namespaces: dict[str, Any],
    selector: dict[str, str],
) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": "PodMonitor",
        "metadata": _metadata(settings, name, "monitoring"),
        "spec": {
            "jobLabel": COMPONENT,
            "namespaceSelector": namespaces,
            "selector": {"matchLabels": {**selector, COMPONENT: component}},
            "podMetricsEndpoints": [{"path": "/metrics", "interval": "30s", **endpoint}],
        },
    }


def pod_monitors(settings: MonitoringSettings) -> list[dict[str, Any]]:
    """Model servers in every namespace (InferenceService pods carry the ISVC's labels),
    the operator where it runs, and a router wherever one runs in the cluster."""
    return [
        _pod_monitor(
            settings, "kfops-model-server", settings.server_job,
            {"portNumber": settings.server_port}, {"any": True},
            {"app.kubernetes.io/part-of": "kfops"},
        ),
        _pod_monitor(
            settings, "kfops-rollout-operator", settings.operator_job,
            {"port": "metrics"}, {"matchNames": [settings.operator_namespace]},
            {"app.kubernetes.io/name": "kfops"},
        ),
        _pod_monitor(
            settings, "kfops-router", "router",
            {"portNumber": settings.router_port}, {"any": True},
            {"app.kubernetes.io/name": "kfops"},
        ),
    ]  # fmt: skip


def dashboard_config_maps(
    settings: MonitoringSettings, boards: dict[str, dict[str, Any]]
) -> list[dict[str, Any]]:
    maps = []
    for name, board in boards.items():
        metadata = _metadata(settings, f"kfops-dashboard-{name}", "dashboards")
        metadata["labels"].update(DASHBOARD_LABEL)
        metadata["annotations"] = dict(DASHBOARD_FOLDER)
        maps.append(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": metadata,
                "data": {f"kfops-{name}.json": dashboard_json(board)},
            }
        )
    return maps


def dashboard_json(board: dict[str, Any]) -> str:
    return json.dumps(board, indent=2, sort_keys=True) + "\n"
