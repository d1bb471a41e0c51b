"""Prometheus series that one package emits and another reads, declared once.

The model server, the rollout operator and the drift check emit these; the alerting rules
and dashboards of :mod:`kfops.monitoring` query them. Names and labels live here (below
every stage package) so each side imports the same definition and a rename breaks both.
No Prometheus client is imported: the emitter builds its own metric from a :class:`Series`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Series:
    name: str
    help: str
    labels: tuple[str, ...]


FEATURE_DRIFT_DISTANCE = Series(
    "kfops_feature_drift_distance",
    "Distance of a feature's served distribution from its reference: Jensen-Shannon "
    "divergence (numeric) or L-infinity (categorical). comparison is skew (against the "
    "training statistics) or drift (against the previous window).",
    ("model", "version", "feature", "comparison"),
)
FEATURE_DRIFT_THRESHOLD = Series(
    "kfops_feature_drift_threshold",
    "The distance above which the feature counts as drifted (from kfops.yaml).",
    FEATURE_DRIFT_DISTANCE.labels,
)
DRIFT_COMPARISONS = ("skew", "drift")
MODEL_LIVE_METRIC = Series(
    "kfops_model_live_metric",
    "A served version's metric on the requests whose labels came back (kfops drift "
    "--feedback), beside the score it was registered with (kind live or registered).",
    ("model", "version", "metric", "kind"),
)

MODEL_VERSION_CREATED = Series(
    "kfops_model_version_created_timestamp_seconds",
    "When the served model version was registered (unix seconds): its age is the "
    "model's staleness.",
    ("model", "version", "variant"),
)

ROLLOUT_PHASE = Series(
    "kfops_rollout_phase",
    "1 for the phase a ModelRollout is in, 0 for the others (Progressing, Paused, "
    "Healthy, Degraded; Degraded means aborted or rolled back).",
    ("namespace", "rollout", "model", "phase"),
)
ROLLOUT_CANARY_WEIGHT = Series(
    "kfops_rollout_canary_weight",
    "Percent of traffic the rollout last gave the candidate.",
    ("namespace", "rollout", "model"),
)
