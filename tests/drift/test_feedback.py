"""Concept drift: predictions the server logged, joined with labels that came back later."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from kfops.drift.feedback import LiveMetric, join_feedback, live_metrics, read_feedback, score
from kfops.errors import DataError
from kfops.serving.inference_log import InferenceRecord, to_rows

WHEN = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


def logged(request_id: str, version: str, labels: list[int], positive: list[float]):
    return InferenceRecord(
        time=WHEN,
        request_id=request_id,
        model="churn",
        version=version,
        variant="champion",
        protocol="v1",
        features={"age": [30] * len(labels)},
        labels=labels,
        probabilities=[[1 - p, p] for p in positive],
        classes=[0, 1],
    )


def rows() -> pd.DataFrame:
    """Three requests as the server's Parquet writer lays them out (one row per input)."""
    return pd.DataFrame(
        to_rows(
            [
                logged("a", "1", [1, 0], [0.9, 0.2]),
                logged("b", "1", [1], [0.6]),
                logged("c", "2", [0, 0], [0.3, 0.4]),
            ]
        )
    )


def labels(*triples: tuple[str, int, int]) -> pd.DataFrame:
    return pd.DataFrame(triples, columns=["request_id", "row", "label"])


def test_labels_join_on_the_request_id_and_the_row_within_it() -> None:
    joined = join_feedback(rows(), labels(("a", 1, 0), ("a", 0, 1), ("c", 1, 1)))
    assert joined[["request_id", "row", "prediction", "label"]].values.tolist() == [
        ["a", 0, 1, 1],
        ["a", 1, 0, 0],
        ["c", 1, 0, 1],
    ]


def test_scores_from_logged_predictions_and_probabilities() -> None:
    joined = join_feedback(rows(), labels(("a", 0, 0), ("a", 1, 0), ("b", 0, 1)))
    assert score("accuracy", joined) == pytest.approx(2 / 3)  # predicted 1, 0, 1
    # The one positive (0.6) ranks below one negative (0.9), above the other (0.2).
    assert score("roc_auc", joined) == pytest.approx(0.5)
    assert score("roc_auc", joined[joined["label"] == 0]) is None  # one class: undefined


def test_live_metric_per_version_against_its_registered_score() -> None:
    feedback = labels(("a", 0, 1), ("a", 1, 0), ("b", 0, 1), ("c", 0, 1), ("c", 1, 1))
    registered = {("1", "roc_auc"): 0.8, ("2", "accuracy"): 0.9}
    measured = live_metrics(rows(), feedback, "roc_auc", lambda v, m: registered[(v, m)], 0.05)
    assert [(m.version, m.metric, m.value, m.rows) for m in measured] == [
        ("1", "roc_auc", 1.0, 3),
        ("2", "accuracy", 0.0, 2),  # one class among its labels: roc_auc undefined, accuracy
    ]
    assert [m.degraded for m in measured] == [False, True]
    assert measured[1].to_dict()["drop"] == pytest.approx(0.9)


def test_a_lower_is_better_metric_degrades_upwards() -> None:
    assert LiveMetric("1", "rmse", 1.3, 1.0, 10, 0.2).degraded
    assert not LiveMetric("1", "rmse", 0.7, 1.0, 10, 0.2).degraded
    unknown = LiveMetric("1", "accuracy", 0.7, math.nan, 10, 0.05)
    assert not unknown.degraded and unknown.to_dict()["registered"] is None


def test_a_feedback_file_without_labels_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "labels.csv"
    path.write_text("request_id,outcome\na,1\n")
    with pytest.raises(DataError, match=rf"^feedback file {path} has no column 'label'; it needs"):
        read_feedback(path)
    with pytest.raises(DataError, match="does not exist"):
        read_feedback(tmp_path / "missing.csv")
    path.write_text("request_id,label\na,1\n")
    assert read_feedback(path).values.tolist() == [["a", 0, 1]]  # row 0 when left out


def test_a_missing_feedback_file_stops_the_command_before_tfdv(tmp_path: Path) -> None:
    from tests.drift.test_inputs import NOW, log_records, run, write_config

    log_records(tmp_path / "log", NOW)
    result = run(write_config(tmp_path), "--feedback", str(tmp_path / "labels.csv"))
    assert result.exit_code == 3
    assert f"feedback file {tmp_path / 'labels.csv'} does not exist" in result.output


def test_the_live_and_registered_metric_are_gauges(tmp_path: Path) -> None:
    from dataclasses import replace

    from prometheus_client.parser import text_string_to_metric_families

    from kfops.drift.gauges import write_textfile
    from kfops.series import MODEL_LIVE_METRIC
    from tests.drift.test_inputs import sample_report

    report = replace(sample_report(), performance=(LiveMetric("3", "roc_auc", 0.7, 0.8, 50, 0.05),))
    assert report.degraded and report.to_dict()["performance"][0]["degraded"] is True
    write_textfile(report, tmp_path / "drift.prom")
    samples = [
        s
        for f in text_string_to_metric_families((tmp_path / "drift.prom").read_text())
        for s in f.samples
        if s.name == MODEL_LIVE_METRIC.name
    ]
    assert {(s.labels["kind"], s.value) for s in samples} == {("live", 0.7), ("registered", 0.8)}
    assert set(samples[0].labels) == set(MODEL_LIVE_METRIC.labels)
