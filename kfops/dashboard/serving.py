"""Request rate, 90th percentile latency and error ratio per variant, from Prometheus.

The series are the model server's (``kfops_serving_*``, the ones :mod:`kfops.monitoring.rules`
alerts on) or, for a local rollout, its router's (``kfops_router_*``): each query takes
whichever exists, e.g. for the candidate's rate
``sum(rate(kfops_serving_requests_total{variant="candidate"}[1m]))
or sum(rate(kfops_router_requests_total{variant="candidate",role="served"}[1m]))``.
No 5xx series yet counts as no error (``or vector(0)`` on the numerator only, so a variant
without requests stays "no figure"). A Prometheus that does not answer is a message, never an exception.
"""

from __future__ import annotations

import math
from typing import Any

from kfops.monitoring.rules import DURATION_SECONDS, REQUESTS
from kfops.rollout.providers.prometheus import MeasurementError, query

VARIANTS = ("stable", "candidate")
WINDOW = "1m"
ROUTER_REQUESTS = "kfops_router_requests_total"
ROUTER_DURATION = "kfops_router_request_duration_seconds"
SERVER_5XX = ',status=~"5.."'  # the model server labels its HTTP status "status"
ROUTER_5XX = ',code=~"5.."'  # the router labels it "code"


def queries(variant: str) -> dict[str, str]:
    """The three PromQL figures of one variant."""
    served = f'variant="{variant}"'
    routed = f'variant="{variant}",role="served"'

    def rate(series: str, labels: str) -> str:
        return f"sum(rate({series}{{{labels}}}[{WINDOW}]))"

    def p90(series: str, labels: str) -> str:
        return f"histogram_quantile(0.9, sum by (le) (rate({series}_bucket{{{labels}}}[{WINDOW}])))"

    return {
        "rate": f"{rate(REQUESTS, served)} or {rate(ROUTER_REQUESTS, routed)}",
        "p90_seconds": f"{p90(DURATION_SECONDS, served)} or {p90(ROUTER_DURATION, routed)}",
        "error_ratio": (
            f"(({rate(REQUESTS, served + SERVER_5XX)} or vector(0)) / {rate(REQUESTS, served)})"
            f" or (({rate(ROUTER_REQUESTS, routed + ROUTER_5XX)} or vector(0))"
            f" / {rate(ROUTER_REQUESTS, routed)})"
        ),
    }


def _first(value: float | list[float]) -> float | None:
    """The figure, or None for no series or a non-finite one (0/0 over no requests)."""
    if isinstance(value, list):
        value = value[0] if value else math.nan
    return value if math.isfinite(value) else None


def serving_figures(address: str | None, timeout: float = 3.0) -> dict[str, Any]:
    """``{"address", "variants": {variant: {rate, p90_seconds, error_ratio}}, "message"}``."""
    if not address:
        return {
            "address": "",
            "variants": {},
            "message": "no Prometheus configured: start the dashboard with --prometheus URL",
        }
    variants: dict[str, dict[str, float | None]] = {}
    try:
        for variant in VARIANTS:
            variants[variant] = {
                figure: _first(query(address, promql, timeout))
                for figure, promql in queries(variant).items()
            }
    except MeasurementError as exc:
        return {"address": address, "variants": {}, "message": exc.message}
    return {"address": address, "variants": variants, "message": ""}
