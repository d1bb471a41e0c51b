"""The Prometheus recording and alerting rules of kfops, built from a few typed settings.

SLOs follow the multi-window, multi-burn-rate alerts of the Google SRE workbook
("Alerting on SLOs"): a page when the error budget burns 14.4x too fast over 1 h (and
still over the last 5 min) or 6x over 6 h (and 30 min); a ticket at 3x over 1 d (2 h) or
1x over 3 d (6 h). The short window makes an alert stop soon after the problem does.

Availability counts 5xx answers of the model server as errors (4xx are the client's);
latency counts requests slower than ``latency_threshold_seconds``, which must be one of
the server's histogram buckets (a ratio of ``le`` buckets is exact only at a bucket).
Every alert carries ``severity`` (``critical`` pages, ``warning`` makes a ticket) and a
``runbook`` naming its section of docs/monitoring.md.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from prometheus_client.utils import floatToGoString
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from kfops.errors import ConfigurationError, config_error, one_line
from kfops.metrics import METRIC_DIRECTIONS, Direction
from kfops.series import (
    FEATURE_DRIFT_DISTANCE,
    FEATURE_DRIFT_THRESHOLD,
    MODEL_LIVE_METRIC,
    MODEL_VERSION_CREATED,
    ROLLOUT_PHASE,
)
from kfops.serving.metrics import LATENCY_BUCKETS

DURATION = re.compile(r"^[0-9]+(ms|s|m|h|d|w|y)$")
SLO_WINDOWS = ("5m", "30m", "1h", "2h", "6h", "1d", "3d")
# (severity, long window, short window, burn rate): the SRE workbook's table.
BURN_RATES = (
    ("critical", "1h", "5m", 14.4),
    ("critical", "6h", "30m", 6.0),
    ("warning", "1d", "2h", 3.0),
    ("warning", "3d", "6h", 1.0),
)
SLO_BY = "namespace, model"
VARIANT_BY = "namespace, model, version, variant"
REQUESTS = "kfops_serving_requests_total"
DURATION_SECONDS = "kfops_serving_request_duration_seconds"
PIPELINE_RUNS = "argo_workflows_total_count"
"""Argo Workflows' (3.6+) counter of workflows entering each phase, by namespace."""


class MonitoringSettings(BaseModel):
    """Thresholds and SLO targets of the rules, and where the objects go; the defaults are
    what ``manifests/monitoring`` holds. ``kfops monitoring render --settings FILE`` reads
    a YAML mapping of these keys."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    availability_slo: float = Field(
        0.999, gt=0.5, lt=1, description="Share of requests answered without a 5xx."
    )
    latency_slo: float = Field(
        0.99, gt=0.5, lt=1, description="Share of requests faster than the threshold."
    )
    latency_threshold_seconds: float = Field(
        0.25, description="A bucket of the model server's latency histogram."
    )
    variant_error_ratio: float = Field(
        0.05, gt=0, lt=1, description="5xx share above which one variant alerts."
    )
    min_request_rate: float = Field(
        0.05, ge=0, description="Requests per second below which a variant's error share "
        "does not alert (a handful of requests is not a rate).",
    )  # fmt: skip
    max_model_age_days: float = Field(
        30, gt=0, description="Age of the served champion version that counts as stale."
    )
    drift_for: str = Field("0m", description="How long a feature stays drifted before alerting.")
    live_metric_max_drop: float = Field(
        0.05, gt=0, description="How far a version's live metric (kfops drift --feedback) may "
        "fall below its registered score before it alerts (as drift.max_metric_drop).",
    )  # fmt: skip
    pipeline_failure_window: str = Field("1h", description="Window of failed pipeline runs.")
    server_job: str = Field("model-server", description="Prometheus job of the model servers.")
    operator_job: str = Field(
        "rollout-operator", description="Prometheus job of the rollout operator."
    )
    server_port: int = Field(8080, ge=1, le=65535, description="The model server's port.")
    router_port: int = Field(8090, ge=1, le=65535, description="The traffic router's port.")
    namespace: str = Field("monitoring", description="Namespace of the rules, monitors, boards.")
    operator_namespace: str = Field("kubeflow", description="Where the rollout operator runs.")
    selector_labels: dict[str, str] = Field(
        default_factory=lambda: {"release": "kube-prometheus-stack"},
        description="Labels Prometheus selects rules and monitors by (kube-prometheus-stack: "
        "release: <its release name>).",
    )
    runbook_url: str | None = Field(
        None, description="Base URL of docs/monitoring.md; adds runbook_url to each alert."
    )

    @field_validator("latency_threshold_seconds")
    @classmethod
    def _a_bucket(cls, value: float) -> float:
        if value not in LATENCY_BUCKETS:
            buckets = ", ".join(floatToGoString(b) for b in LATENCY_BUCKETS)
            raise ValueError(f"must be one of the model server's latency buckets: {buckets}")
        return value

    @field_validator("drift_for", "pipeline_failure_window")
    @classmethod
    def _a_duration(cls, value: str) -> str:
        if not DURATION.match(value):
            raise ValueError("must be a Prometheus duration such as 30s, 15m, 1h or 1d")
        return value


def load_settings(path: Path | None) -> MonitoringSettings:
    """The defaults, or the YAML mapping in ``path`` over them; one line naming the key when
    a value is wrong."""
    if path is None:
        return MonitoringSettings()
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigurationError(f"{path}: cannot read it ({one_line(exc)})") from exc
    if not isinstance(raw, dict):
        raise ConfigurationError(f"{path}: expected a mapping of monitoring settings")
    try:
        return MonitoringSettings.model_validate(raw)
    except ValidationError as exc:
        raise config_error(exc, str(path)) from exc


# --- the rules ---------------------------------------------------------------------------------


def _alert(
    settings: MonitoringSettings,
    name: str,
    expr: str,
    severity: str,
    summary: str,
    description: str,
    for_: str = "0m",
    **labels: str,
) -> dict[str, Any]:
    rule: dict[str, Any] = {"alert": name, "expr": expr}
    if for_ not in ("0m", "0s"):
        rule["for"] = for_
    rule["labels"] = {"severity": severity, **labels}
    annotations = {
        "summary": summary,
        "description": description,
        "runbook": f"docs/monitoring.md#{name.lower()}",
    }
    if settings.runbook_url:
        annotations["runbook_url"] = f"{settings.runbook_url}#{name.lower()}"
    rule["annotations"] = annotations
    return rule


def _ratio(numerator: str, denominator: str, by: str, window: str) -> str:
    return (
        f"sum by ({by}) (rate({numerator}[{window}]))\n"
        f"/\nsum by ({by}) (rate({denominator}[{window}]))"
    )


def slo_recording(settings: MonitoringSettings) -> list[dict[str, Any]]:
    """Error and slow-request ratios per model over every window the burn rates use."""
    le = floatToGoString(settings.latency_threshold_seconds)
    rules = []
    for window in SLO_WINDOWS:
        rules += [
            {
                "record": f"kfops:serving_request_errors:ratio_rate{window}",
                "expr": _ratio(f'{REQUESTS}{{status=~"5.."}}', REQUESTS, SLO_BY, window),
            },
            {
                "record": f"kfops:serving_request_slow:ratio_rate{window}",
                "expr": "1 - (\n"
                + _ratio(
                    f'{DURATION_SECONDS}_bucket{{le="{le}"}}',
                    f"{DURATION_SECONDS}_count",
                    SLO_BY,
                    window,
                )
                + "\n)",
            },
        ]
    return rules


def _burn_alerts(
    settings: MonitoringSettings, slo: str, target: float, ratio: str, what: str
) -> list[dict[str, Any]]:
    budget = 1 - target
    alerts = []
    paces = (
        ("critical", "", "fast", "1 h and 6 h windows"),
        ("warning", "Slow", "steadily", "1 d and 3 d windows"),
    )
    for severity, name, speed, windows in paces:
        pairs = [
            f"(\n  kfops:{ratio}:ratio_rate{long} > {rate:g} * {budget:.6g}\n"
            f"and\n  kfops:{ratio}:ratio_rate{short} > {rate:g} * {budget:.6g}\n)"
            for level, long, short, rate in BURN_RATES
            if level == severity
        ]
        alerts.append(
            _alert(
                settings,
                f"Kfops{slo}BudgetBurn{name}",
                "\nor\n".join(pairs),
                severity,
                f"{{{{ $labels.model }}}} burns its {what} error budget {speed}",
                f"Model {{{{ $labels.model }}}} in {{{{ $labels.namespace }}}} misses its "
                f"{what} SLO of {target:.4g} on {{{{ $value | humanizePercentage }}}} of "
                f"requests: the error budget burns {speed} ({windows}).",
                "2m" if severity == "critical" else "15m",
                slo=slo.lower(),
            )
        )
    return alerts


def serving_group(settings: MonitoringSettings) -> dict[str, Any]:
    threshold = floatToGoString(settings.latency_threshold_seconds)
    return {
        "name": "kfops-serving-slo",
        "rules": [
            *slo_recording(settings),
            *_burn_alerts(
                settings,
                "Availability",
                settings.availability_slo,
                "serving_request_errors",
                "availability",
            ),
            *_burn_alerts(
                settings,
                "Latency",
                settings.latency_slo,
                "serving_request_slow",
                f"latency ({threshold} s)",
            ),  # fmt: skip
            _alert(
                settings,
                "KfopsModelServerDown",
                f'up{{job="{settings.server_job}"}} == 0',
                "critical",
                "A kfops model server is down",
                "Prometheus cannot scrape {{ $labels.namespace }}/{{ $labels.pod }} "
                "({{ $labels.instance }}) for 5 minutes: the pod is gone, not ready or "
                "not answering /metrics.",
                "5m",
            ),
        ],
    }


def variant_group(settings: MonitoringSettings) -> dict[str, Any]:
    errors = "kfops:serving_variant_errors:ratio_rate5m"
    requests = "kfops:serving_variant_requests:rate5m"
    return {
        "name": "kfops-serving-variants",
        "rules": [
            {
                "record": requests,
                "expr": f"sum by ({VARIANT_BY}) (rate({REQUESTS}[5m]))",
            },
            {
                "record": errors,
                "expr": _ratio(f'{REQUESTS}{{status=~"5.."}}', REQUESTS, VARIANT_BY, "5m"),
            },
            _alert(
                settings,
                "KfopsVariantErrorRateHigh",
                f"{errors} > {settings.variant_error_ratio:g}\n"
                f"and on ({VARIANT_BY})\n{requests} > {settings.min_request_rate:g}",
                "warning",
                "{{ $labels.model }} {{ $labels.variant }} answers too many 5xx",
                "Variant {{ $labels.variant }} (version {{ $labels.version }}) of "
                "{{ $labels.model }} in {{ $labels.namespace }} answered "
                "{{ $value | humanizePercentage }} of its requests with a 5xx over 5 minutes "
                f"(threshold {settings.variant_error_ratio:.2%}).",
                "5m",
            ),
        ],
    }


def drift_group(settings: MonitoringSettings) -> dict[str, Any]:
    distance, threshold = FEATURE_DRIFT_DISTANCE.name, FEATURE_DRIFT_THRESHOLD.name
    return {
        "name": "kfops-drift",
        "rules": [
            {"record": "kfops:feature_drift:ratio", "expr": f"{distance} / {threshold}"},
            {
                "record": "kfops:model_drifted_features:count",
                "expr": f"count by (model, version, comparison) ({distance} > {threshold})",
            },
            _alert(
                settings,
                "KfopsFeatureDrift",
                f"{distance} > {threshold}",
                "warning",
                "Feature {{ $labels.feature }} of {{ $labels.model }} drifted",
                "The served values of {{ $labels.feature }} (model {{ $labels.model }}, "
                'version {{ $labels.version }}) are {{ $value | printf "%.3f" }} away from '
                'their {{ if eq $labels.comparison "skew" }}training statistics'
                "{{ else }}previous window{{ end }}, above the feature's threshold.",
                settings.drift_for,
            ),
            _live_metric_alert(settings),
        ],
    }


def _live_metric_alert(settings: MonitoringSettings) -> dict[str, Any]:
    """How much worse the live metric is than the registered score, each metric the way it
    points (kfops.metrics): registered - live for accuracy-like, live - registered for errors."""
    live = MODEL_LIVE_METRIC.name
    drops = []
    for direction in Direction:
        names = "|".join(m for m, d in METRIC_DIRECTIONS.items() if d is direction)
        worse, better = ("registered", "live") if direction is Direction.MAXIMIZE else (
            "live", "registered")  # fmt: skip
        drops.append(
            f'(\n  {live}{{kind="{worse}", metric=~"{names}"}}\n'
            f'- ignoring (kind)\n  {live}{{kind="{better}", metric=~"{names}"}}\n'
            f") > {settings.live_metric_max_drop:g}"
        )
    return _alert(
        settings,
        "KfopsModelLiveMetricDegraded",
        "\nor\n".join(drops),
        "warning",
        "{{ $labels.model }} version {{ $labels.version }} scores worse on labelled traffic",
        "On the served requests whose labels came back, version {{ $labels.version }} of "
        '{{ $labels.model }} is {{ $value | printf "%.3f" }} worse on {{ $labels.metric }} '
        f"than its registered score (more than {settings.live_metric_max_drop:g}).",
    )


def model_group(settings: MonitoringSettings) -> dict[str, Any]:
    age = "kfops:model_version_age:seconds"
    max_age = settings.max_model_age_days * 86400
    return {
        "name": "kfops-models",
        "rules": [
            {
                "record": age,
                "expr": "time() - max by (namespace, model, version, variant) "
                f"({MODEL_VERSION_CREATED.name})",
            },
            _alert(
                settings,
                "KfopsModelStale",
                f'{age}{{variant="champion"}} > {max_age:.0f}',
                "warning",
                "The champion of {{ $labels.model }} is old",
                "{{ $labels.model }} serves version {{ $labels.version }} as champion in "
                "{{ $labels.namespace }}; it was registered {{ $value | humanizeDuration }} "
                f"ago, more than {settings.max_model_age_days:g} days.",
                "1h",
            ),
        ],
    }


def pipeline_group(settings: MonitoringSettings) -> dict[str, Any]:
    window = settings.pipeline_failure_window
    return {
        "name": "kfops-pipelines",
        "rules": [
            _alert(
                settings,
                "KfopsPipelineRunFailed",
                f"sum by (namespace) (increase({PIPELINE_RUNS}"
                f'{{phase=~"Failed|Error"}}[{window}])) > 0',
                "warning",
                "Pipeline runs failed in {{ $labels.namespace }}",
                '{{ $value | printf "%.0f" }} pipeline run(s) (Argo Workflows) in '
                f"{{{{ $labels.namespace }}}} failed in the last {window}.",
            ),
        ],
    }


def rollout_group(settings: MonitoringSettings) -> dict[str, Any]:
    return {
        "name": "kfops-rollouts",
        "rules": [
            _alert(
                settings,
                "KfopsRolloutAborted",
                f"max by (namespace, rollout, model) ({ROLLOUT_PHASE.name}"
                '{phase="Degraded"}) == 1',
                "warning",
                "Rollout {{ $labels.rollout }} of {{ $labels.model }} was aborted",
                "ModelRollout {{ $labels.namespace }}/{{ $labels.rollout }} is Degraded: "
                "its analysis failed or someone aborted it; the candidate gets no traffic.",
            ),
            _alert(
                settings,
                "KfopsRolloutOperatorDown",
                f'up{{job="{settings.operator_job}"}} == 0',
                "warning",
                "The kfops rollout operator is down",
                "Prometheus cannot scrape the rollout operator "
                "({{ $labels.instance }}) for 10 minutes: no rollout advances or aborts.",
                "10m",
            ),
        ],
    }


def rule_groups(settings: MonitoringSettings | None = None) -> list[dict[str, Any]]:
    """Every group, in the order of the rule files."""
    settings = settings or MonitoringSettings()
    builders = (
        serving_group, variant_group, drift_group, model_group, pipeline_group, rollout_group,
    )  # fmt: skip
    return [build(settings) for build in builders]


def alert_names(groups: list[dict[str, Any]]) -> list[str]:
    return [rule["alert"] for group in groups for rule in group["rules"] if "alert" in rule]


def recorded_names(groups: list[dict[str, Any]]) -> list[str]:
    return [rule["record"] for group in groups for rule in group["rules"] if "record" in rule]
