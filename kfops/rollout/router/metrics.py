"""The router's Prometheus metrics, per variant, in a registry of its own.

The rollout analysis reads these through Prometheus; names and labels are the contract
(see :mod:`kfops.rollout.router.proxy` for the PromQL they are meant for). Each router owns a
``CollectorRegistry``, so several routers in one process (tests) never share counts.
Label children are cached: a ``labels()`` lookup per request would cost more than the
increment itself.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

REQUESTS = "kfops_router_requests_total"
DURATION = "kfops_router_request_duration_seconds"
MIRROR_DROPPED = "kfops_router_mirror_dropped_total"
MIRROR_INFLIGHT = "kfops_router_mirror_inflight"
ASSIGNMENTS = "kfops_router_assignments_total"
CANDIDATE_WEIGHT = "kfops_router_candidate_weight"
MIRROR_PERCENT = "kfops_router_mirror_percent"

SERVED, MIRROR = "served", "mirror"
PREDICT, INFER, OTHER = "predict", "infer", "other"
WEIGHTED, STICKY, FALLBACK = "weighted", "sticky", "fallback"

# Fine at the low end, where a canary's latency regression shows first (1 ms .. 5 s).
LATENCY_BUCKETS = (
    0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075,
    0.1, 0.15, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0,
)  # fmt: skip


class RouterMetrics:
    """The counters, histogram and gauges of one router."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._requests = Counter(
            REQUESTS,
            "Requests proxied, by variant, role (served or mirror), kind and HTTP code.",
            ["variant", "role", "kind", "code"],
            registry=self.registry,
        )
        self._duration = Histogram(
            DURATION,
            "Seconds from the router receiving a request to the upstream answer being read.",
            ["variant", "role", "kind"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.mirror_dropped = Counter(
            MIRROR_DROPPED,
            "Mirror copies not sent because the bound on in-flight mirrors was reached.",
            registry=self.registry,
        )
        self.mirror_inflight = Gauge(
            MIRROR_INFLIGHT, "Mirror copies in flight.", registry=self.registry
        )
        self._assignments = Counter(
            ASSIGNMENTS,
            "Variant choices: weighted (no sticky key configured), sticky (by the key's hash), "
            "fallback (a sticky key is configured but the request lacks it).",
            ["assignment", "variant"],
            registry=self.registry,
        )
        self.candidate_weight = Gauge(
            CANDIDATE_WEIGHT, "Percent of requests sent to the candidate.", registry=self.registry
        )
        self.mirror_percent = Gauge(
            MIRROR_PERCENT,
            "Percent of stable's requests copied to the candidate.",
            registry=self.registry,
        )
        self._children: dict[tuple[str, ...], tuple[Counter, Histogram | None]] = {}
        self._assigned: dict[tuple[str, str], Counter] = {}

    def observe(self, variant: str, role: str, kind: str, code: int, seconds: float) -> None:
        """Counts one finished upstream call and records its latency."""
        key = (variant, role, kind, str(code))
        children = self._children.get(key)
        if children is None:
            children = (
                self._requests.labels(*key),
                self._duration.labels(variant, role, kind),
            )
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def assigned(self, assignment: str, variant: str) -> None:
        child = self._assigned.get((assignment, variant))
        if child is None:
            child = self._assigned[(assignment, variant)] = self._assignments.labels(
                assignment, variant
            )
        child.inc()

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
