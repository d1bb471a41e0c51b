"""The Grafana dashboards of kfops, built with Grafana's own SDK (grafana-foundation-sdk).

Three boards: serving (SLOs, traffic, latency, batching, predictions), rollout (the
operator's phase and weight, the router's split, and each variant side by side), and drift
and data quality (per-feature distances against thresholds, missing values, means and
category shares of served inputs). Every query takes its data source from the
``datasource`` variable, so the boards work with any Prometheus (kube-prometheus-stack's,
seldon-core-analytics', a local one), and filters by ``$model`` / ``$variant`` regexes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from grafana_foundation_sdk.builders import common, dashboard, prometheus, stat, table, timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import DataSourceRef
from grafana_foundation_sdk.models.prometheus import PromQueryFormat

from kfops.monitoring.rules import MonitoringSettings
from kfops.series import (
    FEATURE_DRIFT_DISTANCE,
    FEATURE_DRIFT_THRESHOLD,
    ROLLOUT_CANARY_WEIGHT,
    ROLLOUT_PHASE,
)

LABEL_VALUES = re.compile(r"^label_values\((?P<selector>.+),\s*\w+\)$", re.DOTALL)
DATASOURCE = DataSourceRef(type_val="prometheus", uid="${datasource}")
RATE = "$__rate_interval"
SERVED = 'model=~"$model", variant=~"$variant"'
TAGS = ["kfops"]


@dataclass
class Board:
    """A dashboard under construction: panels laid out left to right, rows of 24 columns."""

    uid: str
    title: str
    description: str
    builder: dashboard.Dashboard = field(init=False)
    _next_id: int = 1

    def __post_init__(self) -> None:
        self.builder = (
            dashboard.Dashboard(self.title)
            .uid(self.uid)
            .description(self.description)
            .tags(TAGS)
            .editable()
            .refresh("30s")
            .time("now-6h", "now")
            .timezone("browser")
            .with_variable(
                dashboard.DatasourceVariable("datasource").label("Prometheus").type("prometheus")
            )
        )

    def variable(self, name: str, label: str, query: str) -> Board:
        self.builder.with_variable(
            dashboard.QueryVariable(name)
            .label(label)
            .datasource(DATASOURCE)
            .query(query)
            .include_all(True)
            .all_value(".*")
            .multi(True)
        )
        return self

    def row(self, title: str) -> Board:
        self.builder.with_row(dashboard.Row(title).id(self._id()))
        return self

    def _id(self) -> int:
        self._next_id += 1
        return self._next_id - 1

    def add(self, panel: Any, width: int = 12, height: int = 8) -> Board:
        self.builder.with_panel(
            panel.id(self._id()).datasource(DATASOURCE).span(width).height(height)
        )
        return self

    def build(self) -> dict[str, Any]:
        return json.loads(json.dumps(self.builder.build(), cls=JSONEncoder))


def query(expr: str, legend: str = "", ref: str = "A", instant: bool = False) -> Any:
    target = prometheus.Dataquery().expr(expr).ref_id(ref)
    if legend:
        target = target.legend_format(legend)
    if instant:
        target = target.instant().format(PromQueryFormat.TABLE)
    return target


def graph(title: str, unit: str, *targets: Any, description: str = "") -> Any:
    panel = timeseries.Panel().title(title).unit(unit).description(description)
    for target in targets:
        panel = panel.with_target(target)
    return panel


def single(title: str, unit: str, expr: str, description: str = "") -> Any:
    return (
        stat.Panel()
        .title(title)
        .unit(unit)
        .description(description)
        .reduce_options(common.ReduceDataOptions().calcs(["lastNotNull"]))
        .with_target(query(expr, "{{model}}"))
    )


def listing(title: str, expr: str, description: str = "") -> Any:
    return (
        table.Panel().title(title).description(description).with_target(query(expr, instant=True))
    )


# --- the boards -------------------------------------------------------------------------------


def serving_dashboard(settings: MonitoringSettings) -> dict[str, Any]:
    threshold = f"{settings.latency_threshold_seconds:g}"
    board = Board(
        "kfops-serving",
        "kfops / Serving",
        "Model servers: SLOs, traffic, latency, batching and predictions per model and variant.",
    )
    board.variable("model", "Model", "label_values(kfops_serving_requests_total, model)")
    board.variable(
        "variant", "Variant", 'label_values(kfops_serving_requests_total{model=~"$model"}, variant)'
    )
    board.row("Service level objectives")
    slo = 'model=~"$model"'
    board.add(
        single(
            "Availability (1 d)", "percentunit",
            f"1 - kfops:serving_request_errors:ratio_rate1d{{{slo}}}",
            f"Share of requests without a 5xx; the SLO is {settings.availability_slo:g}.",
        ), 6, 5,
    ).add(
        single(
            f"Requests under {threshold} s (1 d)", "percentunit",
            f"1 - kfops:serving_request_slow:ratio_rate1d{{{slo}}}",
            f"The latency SLO is {settings.latency_slo:g}.",
        ), 6, 5,
    ).add(
        single(
            "Availability budget burn (1 h)", "none",
            f"kfops:serving_request_errors:ratio_rate1h{{{slo}}} / {1 - settings.availability_slo:.6g}",
            "1 spends the budget exactly over the SLO period; above 14.4 pages.",
        ), 6, 5,
    ).add(
        single(
            "Latency budget burn (1 h)", "none",
            f"kfops:serving_request_slow:ratio_rate1h{{{slo}}} / {1 - settings.latency_slo:.6g}",
            "1 spends the budget exactly over the SLO period; above 14.4 pages.",
        ), 6, 5,
    )  # fmt: skip
    board.row("Traffic")
    board.add(
        graph(
            "Requests per second", "reqps",
            query(
                f"sum by (variant, status) (rate(kfops_serving_requests_total{{{SERVED}}}[{RATE}]))",
                "{{variant}} {{status}}",
            ),
        )
    ).add(
        graph(
            "5xx share by variant", "percentunit",
            query(
                f'sum by (variant) (rate(kfops_serving_requests_total{{{SERVED}, status=~"5.."}}[{RATE}]))\n'
                f"/\nsum by (variant) (rate(kfops_serving_requests_total{{{SERVED}}}[{RATE}]))",
                "{{variant}}",
            ),
        )
    )  # fmt: skip
    board.row("Latency")
    board.add(
        graph(
            "Request latency by variant", "s",
            *(
                query(
                    f"histogram_quantile({q}, sum by (le, variant) "
                    f"(rate(kfops_serving_request_duration_seconds_bucket{{{SERVED}}}[{RATE}])))",
                    f"p{round(q * 100)} {{{{variant}}}}", ref,
                )
                for q, ref in ((0.5, "A"), (0.9, "B"), (0.99, "C"))
            ),
        )
    ).add(
        graph(
            "Model call time and rows per call", "s",
            query(
                f"sum by (variant) (rate(kfops_serving_batch_duration_seconds_sum{{{SERVED}}}[{RATE}]))\n"
                f"/\nsum by (variant) (rate(kfops_serving_batch_duration_seconds_count{{{SERVED}}}[{RATE}]))",
                "seconds {{variant}}",
            ),
            query(
                f"sum by (variant) (rate(kfops_serving_batch_rows_sum{{{SERVED}}}[{RATE}]))\n"
                f"/\nsum by (variant) (rate(kfops_serving_batch_rows_count{{{SERVED}}}[{RATE}]))",
                "rows {{variant}}", "B",
            ),
            description="Mean time of one model call and mean rows merged into it.",
        )
    )  # fmt: skip
    board.row("Predictions and versions")
    board.add(
        graph(
            "Predicted labels", "percentunit",
            query(
                f"sum by (variant, label) (rate(kfops_serving_predictions_total{{{SERVED}}}[{RATE}]))\n"
                f"/ on (variant) group_left\n"
                f"sum by (variant) (rate(kfops_serving_predictions_total{{{SERVED}}}[{RATE}]))",
                "{{variant}} {{label}}",
            ),
            description="Share of each predicted class: a shift is prediction drift.",
        )
    ).add(
        graph(
            "Mean confidence", "percentunit",
            query(
                f"sum by (variant) (rate(kfops_serving_prediction_confidence_sum{{{SERVED}}}[{RATE}]))\n"
                f"/\nsum by (variant) (rate(kfops_serving_prediction_confidence_count{{{SERVED}}}[{RATE}]))",
                "{{variant}}",
            ),
        )
    ).add(
        listing(
            "Served versions",
            f"max by (namespace, model, version, variant, sha256, alias) (kfops_serving_model_info{{{SERVED}}})",
        ), 12, 6,
    ).add(
        listing(
            "Age of the served versions",
            f"kfops:model_version_age:seconds{{{SERVED}}}",
            f"A champion older than {settings.max_model_age_days:g} days alerts (KfopsModelStale).",
        ), 12, 6,
    )  # fmt: skip
    return board.build()


def rollout_dashboard(settings: MonitoringSettings) -> dict[str, Any]:
    board = Board(
        "kfops-rollout",
        "kfops / Rollouts",
        "Progressive rollouts: the operator's phase and weight, the router's split, and the "
        "stable and candidate variants side by side.",
    )
    board.variable("model", "Model", f"label_values({ROLLOUT_PHASE.name}, model)")
    board.variable("variant", "Variant", "label_values(kfops_serving_requests_total, variant)")
    board.row("ModelRollouts (operator)")
    board.add(
        listing(
            "Current phase",
            f'{ROLLOUT_PHASE.name}{{model=~"$model"}} == 1',
            "Degraded: aborted or rolled back (KfopsRolloutAborted).",
        )
    ).add(
        graph(
            "Candidate weight", "percent",
            query(f'{ROLLOUT_CANARY_WEIGHT.name}{{model=~"$model"}}', "{{namespace}}/{{rollout}}"),
        )
    )  # fmt: skip
    board.row("Router (local rollouts)")
    board.add(
        graph(
            "Router requests by variant", "reqps",
            query(
                f"sum by (variant, role, code) (rate(kfops_router_requests_total[{RATE}]))",
                "{{variant}} {{role}} {{code}}",
            ),
        )
    ).add(
        graph(
            "Router split", "percent",
            query("max(kfops_router_candidate_weight)", "candidate weight"),
            query("max(kfops_router_mirror_percent)", "mirrored", "B"),
        )
    ).add(
        graph(
            "Router latency p99 by variant", "s",
            query(
                "histogram_quantile(0.99, sum by (le, variant) "
                f"(rate(kfops_router_request_duration_seconds_bucket[{RATE}])))",
                "{{variant}}",
            ),
        )
    ).add(
        graph(
            "Router 5xx share and dropped mirrors", "percentunit",
            query(
                f'sum by (variant) (rate(kfops_router_requests_total{{code=~"5.."}}[{RATE}]))\n'
                f"/\nsum by (variant) (rate(kfops_router_requests_total[{RATE}]))",
                "5xx {{variant}}",
            ),
            query(
                f"sum(rate(kfops_router_mirror_dropped_total[{RATE}]))\n"
                f'/\nsum(rate(kfops_router_requests_total{{role="mirror"}}[{RATE}]))',
                "mirrors dropped", "B",
            ),
        )
    )  # fmt: skip
    board.row("Variants side by side (model servers)")
    board.add(
        graph(
            "5xx share by version", "percentunit",
            query(
                f'kfops:serving_variant_errors:ratio_rate5m{{{SERVED}}}',
                "{{variant}} v{{version}}",
            ),
            description=f"Above {settings.variant_error_ratio:.0%} alerts (KfopsVariantErrorRateHigh).",
        )
    ).add(
        graph(
            "Latency p99 by version", "s",
            query(
                "histogram_quantile(0.99, sum by (le, variant, version) "
                f"(rate(kfops_serving_request_duration_seconds_bucket{{{SERVED}}}[{RATE}])))",
                "{{variant}} v{{version}}",
            ),
        )
    )  # fmt: skip
    return board.build()


def drift_dashboard(settings: MonitoringSettings) -> dict[str, Any]:
    board = Board(
        "kfops-drift",
        "kfops / Drift and data quality",
        "Served inputs against the training data (skew) and the previous window (drift), "
        "and the quality of what clients send.",
    )
    board.variable("model", "Model", "label_values(kfops_serving_feature_values_total, model)")
    board.variable(
        "variant", "Variant",
        'label_values(kfops_serving_feature_values_total{model=~"$model"}, variant)',
    )  # fmt: skip
    board.variable(
        "feature", "Feature",
        'label_values(kfops_serving_feature_values_total{model=~"$model"}, feature)',
    )  # fmt: skip
    chosen = 'model=~"$model", feature=~"$feature"'
    board.row("Drift (from the drift check)")
    board.add(
        graph(
            "Distance by feature", "none",
            query(f"{FEATURE_DRIFT_DISTANCE.name}{{{chosen}}}", "{{feature}} {{comparison}}"),
            query(
                f"{FEATURE_DRIFT_THRESHOLD.name}{{{chosen}}}", "threshold {{feature}}", "B"
            ),
            description="Jensen-Shannon divergence (numeric) or L-infinity distance "
            "(categorical); above its threshold a feature alerts (KfopsFeatureDrift).",
        )
    ).add(
        listing(
            "Distance / threshold (above 1: drifted)",
            f'sort_desc(kfops:feature_drift:ratio{{{chosen}}})',
        )
    ).add(
        graph(
            "Drifted features", "none",
            query('kfops:model_drifted_features:count{model=~"$model"}', "{{model}} v{{version}} {{comparison}}"),
        ), 24, 6,
    )  # fmt: skip
    served = 'model=~"$model", variant=~"$variant", feature=~"$feature"'
    board.row("Data quality (served requests)")
    board.add(
        graph(
            "Missing values", "percentunit",
            query(
                f"sum by (feature) (rate(kfops_serving_feature_missing_total{{{served}}}[{RATE}]))\n"
                f"/\n(sum by (feature) (rate(kfops_serving_feature_values_total{{{served}}}[{RATE}]))"
                f"\n+ sum by (feature) (rate(kfops_serving_feature_missing_total{{{served}}}[{RATE}])))",
                "{{feature}}",
            ),
        )
    ).add(
        graph(
            "Mean of numeric features", "none",
            query(
                f"sum by (feature) (delta(kfops_serving_feature_sum{{{served}}}[{RATE}]))\n"
                f"/\nsum by (feature) (increase(kfops_serving_feature_values_total{{{served}}}[{RATE}]))",
                "{{feature}}",
            ),
        )
    ).add(
        graph(
            "Standard deviation of numeric features", "none",
            query(
                f"sqrt(\n  sum by (feature) (delta(kfops_serving_feature_sum_squares{{{served}}}[{RATE}]))\n"
                f"  / sum by (feature) (increase(kfops_serving_feature_values_total{{{served}}}[{RATE}]))\n"
                f"  - (\n    sum by (feature) (delta(kfops_serving_feature_sum{{{served}}}[{RATE}]))\n"
                f"    / sum by (feature) (increase(kfops_serving_feature_values_total{{{served}}}[{RATE}]))\n"
                "  ) ^ 2\n)",
                "{{feature}}",
            ),
        )
    ).add(
        graph(
            "Category shares", "percentunit",
            query(
                f"sum by (feature, value) (rate(kfops_serving_feature_category_total{{{served}}}[{RATE}]))\n"
                f"/ on (feature) group_left\n"
                f"sum by (feature) (rate(kfops_serving_feature_category_total{{{served}}}[{RATE}]))",
                "{{feature}}={{value}}",
            ),
            description="The first 32 values seen per feature; the rest count as __other__.",
        )
    )  # fmt: skip
    return board.build()


DASHBOARDS = {
    "serving": serving_dashboard,
    "rollout": rollout_dashboard,
    "drift": drift_dashboard,
}


def dashboards(settings: MonitoringSettings | None = None) -> dict[str, dict[str, Any]]:
    """Every board by short name (the file is ``kfops-<name>.json``)."""
    settings = settings or MonitoringSettings()
    return {name: build(settings) for name, build in DASHBOARDS.items()}


def queries(board: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(where, PromQL) for every panel target and query variable of a dashboard."""
    for panel in board.get("panels") or []:
        for target in panel.get("targets") or []:
            if target.get("expr"):
                yield f"{board['uid']}: {panel.get('title')} {target.get('refId')}", target["expr"]
    for variable in (board.get("templating") or {}).get("list") or []:
        if variable.get("type") == "query":
            found = LABEL_VALUES.match(variable["query"])
            if found:  # Grafana's own function around a PromQL selector
                yield f"{board['uid']}: ${variable['name']}", found["selector"]
