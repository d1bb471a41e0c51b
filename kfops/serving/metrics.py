"""Prometheus metrics of one served model: traffic, latency, batching, outputs, inputs.

Every series carries ``model``, ``version`` and ``variant`` (champion, challenger,
canary...), so a rollout's analysis can compare two versions behind one service.
Per-feature summaries serve drift checks without logging every request: for a numeric
feature the mean over a window is ``delta(sum) / increase(count)`` and the variance
``delta(sum_squares) / increase(count) - mean^2``; categories are counted per value (the
first 32 values seen per feature, the rest as ``__other__``, to bound cardinality).

Each server has its own registry (tests run several servers in one process); ``render``
appends the process-wide registry, where kserve keeps its own histograms.
"""

from __future__ import annotations

from collections import Counter as Tally
from typing import Any

import numpy as np
from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    generate_latest,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from kfops.series import MODEL_VERSION_CREATED

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)
SIZE_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 1024)
CONFIDENCE_BUCKETS = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0)
MAX_CATEGORIES = 32
OTHER = "__other__"
MODEL_LABELS = ("model", "version", "variant")


class ServingMetrics:
    def __init__(
        self,
        model: str,
        version: str,
        variant: str,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self._ids = {"model": model, "version": version, "variant": variant}
        r, ids = self.registry, MODEL_LABELS
        self._requests = Counter(
            "kfops_serving_requests",
            "Requests answered, by protocol and HTTP status.",
            (*ids, "protocol", "status"),
            registry=r,
        )
        self._latency = Histogram(
            "kfops_serving_request_duration_seconds",
            "Time from request to response.",
            (*ids, "protocol"),
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self._batch_rows = Histogram(
            "kfops_serving_batch_rows",
            "Rows per model call.",
            ids,
            buckets=SIZE_BUCKETS,
            registry=r,
        )
        self._batch_requests = Histogram(
            "kfops_serving_batch_requests",
            "Requests merged into one model call.",
            ids,
            buckets=SIZE_BUCKETS,
            registry=r,
        )
        self._batch_seconds = Histogram(
            "kfops_serving_batch_duration_seconds",
            "Time of one model call.",
            ids,
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self._predictions = Counter(
            "kfops_serving_predictions",
            "Predicted labels (classifiers).",
            (*ids, "label"),
            registry=r,
        )
        self._confidence = Histogram(
            "kfops_serving_prediction_confidence",
            "Probability of the predicted class.",
            ids,
            buckets=CONFIDENCE_BUCKETS,
            registry=r,
        )
        self._values = Histogram(
            "kfops_serving_prediction_value",
            "Predicted values (regressors).",
            ids,
            registry=r,
        )
        self._feature_count = Counter(
            "kfops_serving_feature_values",
            "Non-missing values seen, per feature.",
            (*ids, "feature"),
            registry=r,
        )
        self._feature_missing = Counter(
            "kfops_serving_feature_missing",
            "Missing values seen, per feature.",
            (*ids, "feature"),
            registry=r,
        )
        self._feature_sum = Gauge(
            "kfops_serving_feature_sum",
            "Sum of a numeric feature's values.",
            (*ids, "feature"),
            registry=r,
        )
        self._feature_squares = Gauge(
            "kfops_serving_feature_sum_squares",
            "Sum of a numeric feature's squared values.",
            (*ids, "feature"),
            registry=r,
        )
        self._categories = Counter(
            "kfops_serving_feature_category",
            "Values of a categorical feature.",
            (*ids, "feature", "value"),
            registry=r,
        )
        self._created = Gauge(
            MODEL_VERSION_CREATED.name,
            MODEL_VERSION_CREATED.help,
            MODEL_VERSION_CREATED.labels,
            registry=r,
        )
        self._info = Info(
            "kfops_serving_model", "The model version this server serves.", registry=r
        )
        self._seen: dict[str, set[str]] = {}
        self._children: dict[tuple[Any, ...], Any] = {}

    def describe_model(self, **fields: str) -> None:
        """The info metric: ``kfops_serving_model_info{model=..., version=..., sha256=...} 1``."""
        self._info.info({**self._ids, **{k: str(v) for k, v in fields.items()}})

    def version_created(self, timestamp_s: float) -> None:
        """The served version's registration time, so an alert can tell a stale champion."""
        self._created.labels(**self._ids).set(timestamp_s)

    def observe_request(self, protocol: str, status: int, seconds: float) -> None:
        self._child(self._requests, protocol=protocol, status=str(status)).inc()
        self._child(self._latency, protocol=protocol).observe(seconds)

    def _child(self, metric: Any, **labels: str) -> Any:
        """``metric.labels(...)`` for this model, cached: the lookup costs more than the update."""
        key = (id(metric), *labels.values())
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(**self._ids, **labels)
        return child

    def observe_batch(self, requests: int, rows: int, seconds: float) -> None:
        self._child(self._batch_requests).observe(requests)
        self._child(self._batch_rows).observe(rows)
        self._child(self._batch_seconds).observe(seconds)

    def observe_outputs(self, labels: np.ndarray, probabilities: np.ndarray | None) -> None:
        if probabilities is None:
            values = self._child(self._values)
            for value in np.asarray(labels, dtype=np.float64).tolist():
                values.observe(value)
            return
        for label, count in Tally(labels.tolist()).items():
            self._child(self._predictions, label=str(label)).inc(count)
        confidence = self._child(self._confidence)
        for value in probabilities.max(axis=1).tolist():
            confidence.observe(value)

    def observe_features(self, columns: dict[str, np.ndarray]) -> None:
        """Per-feature count, missing, sum and sum of squares (numbers) or value counts."""
        for feature, values in columns.items():
            if values.dtype.kind in "iuf":
                numbers = values.astype(np.float64, copy=False)
                present = numbers[~np.isnan(numbers)]
                count, missing = len(present), len(numbers) - len(present)
                self._child(self._feature_sum, feature=feature).inc(float(present.sum()))
                self._child(self._feature_squares, feature=feature).inc(
                    float(np.square(present).sum())
                )
            else:
                tally = Tally(v for v in values.tolist() if v is not None)
                count = sum(tally.values())
                missing = len(values) - count
                for value, n in tally.items():
                    category = self._category(feature, str(value))
                    self._child(self._categories, feature=feature, value=category).inc(n)
            self._child(self._feature_count, feature=feature).inc(count)
            if missing:
                self._child(self._feature_missing, feature=feature).inc(missing)

    def _category(self, feature: str, value: str) -> str:
        seen = self._seen.setdefault(feature, set())
        if value in seen:
            return value
        if len(seen) < MAX_CATEGORIES:
            seen.add(value)
            return value
        return OTHER

    def render(self) -> tuple[bytes, str]:
        """The exposition text: this server's series, then the process-wide ones."""
        return generate_latest(self.registry) + generate_latest(REGISTRY), CONTENT_TYPE_LATEST
