"""Every PromQL expression in the rules and dashboards reads only series kfops exports (or
Prometheus' and Argo's own), so renaming a metric breaks this test rather than an alert in
production; and every dashboard query parses in Prometheus itself (promtool)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import yaml
from prometheus_client import CollectorRegistry, Gauge

from kfops import series
from kfops.monitoring.dashboards import dashboards, queries
from kfops.monitoring.rules import recorded_names, rule_groups
from tests.monitoring.conftest import run_promtool

promql_parser = pytest.importorskip("promql_parser")

STANDARD = {
    "up": "Prometheus: 1 when the last scrape of a target succeeded",
    "argo_workflows_total_count": "Argo Workflows 3.6+: workflows entering each phase",
}


def _sample_names(registry: CollectorRegistry) -> set[str]:
    return {sample.name for family in registry.collect() for sample in family.samples}


def served_names() -> set[str]:
    """The model server's series, each one exercised so that it has samples."""
    from kfops.serving.metrics import ServingMetrics

    metrics = ServingMetrics("churn", "3", "champion")
    metrics.describe_model(sha256="0" * 64)
    metrics.version_created(1_700_000_000.0)
    metrics.observe_request("v1", 200, 0.01)
    metrics.observe_batch(1, 2, 0.01)
    metrics.observe_outputs(np.array(["yes", "no"]), np.array([[0.2, 0.8], [0.6, 0.4]]))
    metrics.observe_outputs(np.array([1.5]), None)
    metrics.observe_features(
        {"tenure": np.array([1.0, np.nan]), "plan": np.array(["basic", None], dtype=object)}
    )
    return _sample_names(metrics.registry)


def router_names() -> set[str]:
    from kfops.rollout.router.metrics import RouterMetrics

    metrics = RouterMetrics()
    metrics.observe("stable", "served", "predict", 200, 0.01)
    metrics.assigned("weighted", "stable")
    metrics.mirror_dropped.inc()
    metrics.mirror_inflight.set(1)
    metrics.candidate_weight.set(10)
    metrics.mirror_percent.set(0)
    return _sample_names(metrics.registry)


def operator_names() -> set[str]:
    from kfops.rollout.drivers import operator

    operator.record_status("ml", "names-test", "churn", {"phase": "Progressing"})
    try:
        return _sample_names(operator.OPERATOR_REGISTRY)
    finally:
        operator.forget_rollout("ml", "names-test")


def drift_names() -> set[str]:
    """The drift check's gauges, built from their one definition as its emitter will."""
    registry = CollectorRegistry()
    for declared in (series.FEATURE_DRIFT_DISTANCE, series.FEATURE_DRIFT_THRESHOLD):
        gauge = Gauge(declared.name, declared.help, declared.labels, registry=registry)
        gauge.labels("churn", "3", "tenure", "skew").set(0.1)
    live = series.MODEL_LIVE_METRIC
    Gauge(live.name, live.help, live.labels, registry=registry).labels(
        "churn", "3", "roc_auc", "live"
    ).set(0.9)
    return _sample_names(registry)


@pytest.fixture(scope="module")
def exported() -> set[str]:
    return served_names() | router_names() | operator_names() | drift_names()


def grafana_to_promql(expr: str) -> str:
    """Grafana's variables replaced by what they stand for: an interval, a match-all regex."""
    expr = expr.replace("$__rate_interval", "5m")
    return re.sub(r"\$\{?\w+\}?", ".*", expr)


def selected_names(expr: str) -> set[str]:
    names: set[str] = set()

    def visit(node: object) -> None:
        if isinstance(node, promql_parser.VectorSelector) and node.name:
            names.add(node.name)

    promql_parser.walk(promql_parser.parse(expr), visit)
    return names


def expressions() -> list[tuple[str, str]]:
    found = [
        (f"rule {rule.get('record') or rule.get('alert')}", rule["expr"])
        for group in rule_groups()
        for rule in group["rules"]
    ]
    for board in dashboards().values():
        found += [(where, grafana_to_promql(expr)) for where, expr in queries(board)]
    return found


def test_the_exporters_expose_what_the_rules_were_written_for(exported: set[str]) -> None:
    assert {
        "kfops_serving_requests_total",
        "kfops_serving_request_duration_seconds_bucket",
        "kfops_model_version_created_timestamp_seconds",
        "kfops_router_requests_total",
        "kfops_rollout_phase",
        "kfops_rollout_canary_weight",
        "kfops_feature_drift_distance",
        "kfops_feature_drift_threshold",
        "kfops_model_live_metric",
    } <= exported


def test_every_expression_reads_only_known_series(exported: set[str]) -> None:
    known = exported | set(recorded_names(rule_groups())) | set(STANDARD)
    unknown = {
        where: sorted(selected_names(expr) - known)
        for where, expr in expressions()
        if selected_names(expr) - known
    }
    assert not unknown, unknown


def test_a_renamed_metric_is_caught(exported: set[str]) -> None:
    renamed = "sum(rate(kfops_serving_request_total[5m]))"  # the counter lost its "s"
    assert selected_names(renamed) - exported == {"kfops_serving_request_total"}


def test_every_exported_kfops_series_the_rules_need_is_read_by_some_rule() -> None:
    read = set().union(*(selected_names(rule["expr"])
                         for group in rule_groups() for rule in group["rules"]))  # fmt: skip
    for declared in (
        series.FEATURE_DRIFT_DISTANCE, series.FEATURE_DRIFT_THRESHOLD,
        series.MODEL_VERSION_CREATED, series.ROLLOUT_PHASE, series.MODEL_LIVE_METRIC,
    ):  # fmt: skip
        assert declared.name in read


def test_every_recording_rule_a_dashboard_reads_exists() -> None:
    recorded = set(recorded_names(rule_groups()))
    read = set()
    for board in dashboards().values():
        for _, expr in queries(board):
            read |= {n for n in selected_names(grafana_to_promql(expr)) if ":" in n}
    assert read and read <= recorded


def test_prometheus_parses_every_dashboard_query(promtool: str, tmp_path: Path) -> None:
    """promtool checks the queries as recording rules: Prometheus' own parser and checks."""
    every = [expr for board in dashboards().values() for _, expr in queries(board)]
    rules = [
        {"record": f"kfops:dashboard_query_{index}:check", "expr": grafana_to_promql(expr)}
        for index, expr in enumerate(every)
    ]
    path = tmp_path / "dashboard-queries.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    done = run_promtool(promtool, "check", "rules", path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(rules)} rules found" in done.stdout
