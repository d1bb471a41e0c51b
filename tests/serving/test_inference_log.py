"""Sampled inference records (kfops.serving.inference_log): Parquet and CloudEvents."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from cloudevents.http import from_http

from kfops.serving.inference_log import (
    REQUEST_EVENT,
    RESPONSE_EVENT,
    CloudEventSink,
    InferenceLogger,
    InferenceRecord,
    ParquetSink,
    binary_mode,
    to_cloudevents,
    to_rows,
)
from tests.support.recording import recording

WHEN = datetime(2025, 6, 1, 12, 30, tzinfo=UTC)


def record(request_id: str = "r1", version: str = "3") -> InferenceRecord:
    return InferenceRecord(
        time=WHEN,
        request_id=request_id,
        model="churn",
        version=version,
        variant="champion",
        protocol="v1",
        features={"age": [30, 40], "plan": ["a", "b"]},
        labels=[1, 0],
        probabilities=[[0.2, 0.8], [0.9, 0.1]],
        classes=[0, 1],
    )


def test_one_parquet_row_per_input_row() -> None:
    rows = to_rows([record()])
    assert rows["feature.age"] == [30, 40] and rows["prediction"] == [1, 0]
    assert rows["proba.1"] == [0.8, 0.1] and rows["model_version"] == ["3", "3"]


def test_parquet_sink_partitions_by_model_version_and_day(tmp_path: Path) -> None:
    ParquetSink(tmp_path).write([record(), record("r2", version="4")])
    files = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.parquet"))
    assert [f.rsplit("/", 1)[0] for f in files] == [
        "model=churn/version=3/date=2025-06-01",
        "model=churn/version=4/date=2025-06-01",
    ]
    frame = pd.read_parquet(tmp_path / files[0])
    assert frame["request_id"].tolist() == ["r1", "r1"] and frame["feature.plan"].tolist() == [
        "a",
        "b",
    ]


def test_cloudevents_follow_the_kserve_logger() -> None:
    request, response = to_cloudevents(record(), source="kfops-model-server/churn")
    assert request["type"] == REQUEST_EVENT and response["type"] == RESPONSE_EVENT
    assert request["id"] == response["id"] == "r1" and request["specversion"] == "1.0"
    assert request.data == {"instances": [{"age": 30, "plan": "a"}, {"age": 40, "plan": "b"}]}
    assert response.data["predictions"] == [1, 0] and response["modelversion"] == "3"
    headers, body = binary_mode(response)
    assert headers["ce-type"] == RESPONSE_EVENT and headers["ce-id"] == "r1"
    assert headers["content-type"] == "application/json" and b'"predictions"' in body


def test_values_json_has_no_type_for_are_sent_as_text() -> None:
    event = to_cloudevents(
        InferenceRecord(
            time=WHEN,
            request_id="r9",
            model="churn",
            version="3",
            variant="champion",
            protocol="v2",
            features={"seen": [WHEN], "count": [np.int64(7)]},
            labels=[np.int64(1)],
        ),
        source="kfops-model-server/churn",
    )[0]
    _, body = binary_mode(event)
    assert json.loads(body) == {"instances": [{"seen": str(WHEN), "count": "7"}]}


def test_cloudevent_sink_posts_both_events_in_binary_mode() -> None:
    with recording() as sink:
        CloudEventSink(sink.url + "/events", source="kfops-model-server/churn").write([record()])
    assert all(r.path == "/events" and r.method == "POST" for r in sink.requests)
    # Binary mode: attributes in ce-* headers, the body is the data alone.
    assert [r.headers["content-type"] for r in sink.requests] == ["application/json"] * 2
    assert sink.requests[0].json()["instances"][1] == {"age": 40, "plan": "b"}

    request, response = (from_http(r.headers, r.raw_body) for r in sink.requests)
    for event, kind in ((request, REQUEST_EVENT), (response, RESPONSE_EVENT)):
        assert event.get_attributes() == {
            "specversion": "1.0",
            "id": "r1",
            "source": "kfops-model-server/churn",
            "type": kind,
            "time": "2025-06-01T12:30:00+00:00",
            "datacontenttype": "application/json",
            "inferenceservicename": "churn",
            "modelversion": "3",
            "variant": "champion",
            "endpoint": "v1",
        }
    assert request.data == {"instances": [{"age": 30, "plan": "a"}, {"age": 40, "plan": "b"}]}
    assert response.data == {
        "predictions": [1, 0],
        "probabilities": [[0.2, 0.8], [0.9, 0.1]],
        "classes": [0, 1],
    }


def test_a_sink_that_refuses_the_events_costs_the_records() -> None:
    with recording(lambda request: (503, {"error": "broker unavailable"})) as sink:
        logger = InferenceLogger([CloudEventSink(sink.url)], 1.0, flush_seconds=30)
        logger.add(record())
        logger.close()
    assert len(sink.requests) == 1 and logger.dropped == 1


class Broken:
    def write(self, records) -> None:
        raise OSError("disk full")


class Collect:
    def __init__(self) -> None:
        self.records: list[InferenceRecord] = []

    def write(self, records) -> None:
        self.records.extend(records)


@pytest.mark.parametrize(
    ("rate", "draws", "sampled"), [(0.0, [0.0], 0), (0.5, [0.1, 0.7, 0.49], 2), (1.0, [0.99], 1)]
)
def test_sampling(rate: float, draws: list[float], sampled: int) -> None:
    pending = iter(draws)
    logger = InferenceLogger([Collect()], rate, draw=lambda: next(pending))
    assert sum(logger.sampled() for _ in draws) == sampled


def test_the_thread_flushes_and_a_broken_sink_loses_only_records() -> None:
    good = Collect()
    logger = InferenceLogger([Broken(), good], 1.0, flush_rows=2, flush_seconds=30)
    for i in range(3):
        logger.add(record(f"r{i}"))
    logger.close()
    assert [r.request_id for r in good.records] == ["r0", "r1", "r2"]
    assert logger.dropped == 3


def test_no_sinks_means_no_sampling() -> None:
    assert not InferenceLogger([], 1.0).sampled()
