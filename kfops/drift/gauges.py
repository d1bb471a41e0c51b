"""The drift check's Prometheus gauges: a node-exporter textfile and/or a Pushgateway.

A check is a short-lived process, so nothing scrapes it: the gauges
(kfops.series.FEATURE_DRIFT_DISTANCE and _THRESHOLD) go to a ``.prom`` file that
node-exporter's textfile collector exposes, or are pushed to a Pushgateway under the job
``kfops-drift`` grouped by model, replacing that model's previous push.
"""

from __future__ import annotations

from pathlib import Path

from kfops.drift.check import DriftReport
from kfops.errors import ConfigurationError, one_line
from kfops.series import FEATURE_DRIFT_DISTANCE, FEATURE_DRIFT_THRESHOLD, MODEL_LIVE_METRIC

PUSH_JOB = "kfops-drift"


def drift_registry(report: DriftReport):
    """A fresh registry: a distance and a threshold per feature and comparison, and with
    feedback the live and registered metric per served version."""
    from prometheus_client import CollectorRegistry, Gauge

    registry = CollectorRegistry()
    distance = Gauge(
        FEATURE_DRIFT_DISTANCE.name,
        FEATURE_DRIFT_DISTANCE.help,
        FEATURE_DRIFT_DISTANCE.labels,
        registry=registry,
    )
    threshold = Gauge(
        FEATURE_DRIFT_THRESHOLD.name,
        FEATURE_DRIFT_THRESHOLD.help,
        FEATURE_DRIFT_THRESHOLD.labels,
        registry=registry,
    )
    for f in report.features:
        labels = {
            "model": report.model,
            "version": report.version,
            "feature": f.name,
            "comparison": f.comparison,
        }
        distance.labels(**labels).set(f.distance)
        threshold.labels(**labels).set(f.threshold)
    if report.performance:
        live = Gauge(
            MODEL_LIVE_METRIC.name,
            MODEL_LIVE_METRIC.help,
            MODEL_LIVE_METRIC.labels,
            registry=registry,
        )
        for p in report.performance:
            labels = {"model": report.model, "version": p.version, "metric": p.metric}
            live.labels(**labels, kind="live").set(p.value)
            live.labels(**labels, kind="registered").set(p.registered)
    return registry


def write_textfile(report: DriftReport, path: Path) -> None:
    """Write atomically (prometheus_client renames a temporary file), as node-exporter needs."""
    from prometheus_client import write_to_textfile

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_to_textfile(str(path), drift_registry(report))
    except OSError as exc:
        raise ConfigurationError(
            f"drift.textfile {path}: cannot write ({one_line(exc)}); point it at a writable file"
        ) from exc


def push(report: DriftReport, gateway: str) -> None:
    from prometheus_client import push_to_gateway

    try:
        push_to_gateway(
            gateway,
            job=PUSH_JOB,
            registry=drift_registry(report),
            grouping_key={"model": report.model},
        )
    except OSError as exc:
        raise ConfigurationError(
            f"drift.pushgateway {gateway}: push failed ({one_line(exc)}); check the address"
        ) from exc
