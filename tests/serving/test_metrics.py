"""Prometheus metrics of a served model (kfops.serving.metrics)."""

from __future__ import annotations

import numpy as np
from prometheus_client.parser import text_string_to_metric_families

from kfops.serving.metrics import MAX_CATEGORIES, OTHER, ServingMetrics


def samples(metrics: ServingMetrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    body, content_type = metrics.render()
    assert content_type.startswith("text/plain")
    found = {}
    for family in text_string_to_metric_families(body.decode()):
        for s in family.samples:
            found[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return found


def value(metrics: ServingMetrics, name: str, **labels: str) -> float:
    ids = {"model": "churn", "version": "3", "variant": "canary"}
    return samples(metrics).get((name, tuple(sorted({**ids, **labels}.items()))), 0.0)


def make() -> ServingMetrics:
    return ServingMetrics("churn", "3", "canary")


def test_requests_and_latency_by_protocol_and_status() -> None:
    m = make()
    m.observe_request("v1", 200, 0.004)
    m.observe_request("v1", 200, 0.006)
    m.observe_request("v2", 422, 0.001)
    assert value(m, "kfops_serving_requests_total", protocol="v1", status="200") == 2
    assert value(m, "kfops_serving_requests_total", protocol="v2", status="422") == 1
    assert value(m, "kfops_serving_request_duration_seconds_count", protocol="v1") == 2
    assert value(m, "kfops_serving_request_duration_seconds_bucket", protocol="v1", le="0.005") == 1


def test_batches_outputs_and_the_info_metric() -> None:
    m = make()
    m.observe_batch(requests=3, rows=5, seconds=0.01)
    m.observe_outputs(np.array([1, 0, 1]), np.array([[0.2, 0.8], [0.7, 0.3], [0.4, 0.6]]))
    m.describe_model(sha256="ab12", source="models:/churn/3")
    assert value(m, "kfops_serving_batch_rows_sum") == 5
    assert value(m, "kfops_serving_batch_requests_sum") == 3
    assert value(m, "kfops_serving_predictions_total", label="1") == 2
    assert value(m, "kfops_serving_prediction_confidence_bucket", le="0.7") == 2
    assert value(m, "kfops_serving_model_info", sha256="ab12", source="models:/churn/3") == 1


def test_regressor_outputs_are_a_histogram() -> None:
    m = make()
    m.observe_outputs(np.array([1.5, 2.5]), None)
    assert value(m, "kfops_serving_prediction_value_sum") == 4.0


def test_feature_summaries_give_mean_and_variance_and_bounded_categories() -> None:
    m = make()
    m.observe_features(
        {"age": np.array([20.0, 30.0, np.nan]), "plan": np.array(["a", "b", None], dtype=object)}
    )
    count = value(m, "kfops_serving_feature_values_total", feature="age")
    total = value(m, "kfops_serving_feature_sum", feature="age")
    squares = value(m, "kfops_serving_feature_sum_squares", feature="age")
    assert (count, total, squares) == (2, 50.0, 1300.0)  # mean 25, variance 650 - 625 = 25
    assert value(m, "kfops_serving_feature_missing_total", feature="age") == 1
    assert value(m, "kfops_serving_feature_category_total", feature="plan", value="b") == 1
    m.observe_features(
        {"plan": np.array([f"p{i}" for i in range(MAX_CATEGORIES + 5)], dtype=object)}
    )
    assert value(m, "kfops_serving_feature_category_total", feature="plan", value=OTHER) == 7


def test_render_includes_the_process_registry() -> None:
    body, _ = make().render()
    assert b"python_info" in body or b"process_" in body
