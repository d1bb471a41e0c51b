"""Sampled inference records for drift analysis: Parquet files locally, CloudEvents in a cluster.

The hot path only draws a random number and, for a sampled request, appends a record to
a list; a background thread writes batches to the sinks every ``flush_seconds`` or
``flush_rows`` records, and at shutdown. A failing sink costs the records, never a request.

Parquet files are partitioned like ``model=churn/version=3/date=2025-06-01/part-....parquet``
with one row per input row: time, request id, model, version, variant, protocol, the
features (``feature.<name>``), the prediction and, for classifiers, ``proba.<class>``.
The CloudEvents form follows KServe's payload logger: a request event
(``org.kubeflow.serving.inference.request``) and a response event with the same id, sent
in binary mode to ``url``, so a KServe logger sink (a broker, a message dumper) takes both.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from cloudevents.http import CloudEvent

log = logging.getLogger(__name__)

REQUEST_EVENT = "org.kubeflow.serving.inference.request"
RESPONSE_EVENT = "org.kubeflow.serving.inference.response"


@dataclass(frozen=True)
class InferenceRecord:
    """One sampled request and its answer."""

    time: datetime
    request_id: str
    model: str
    version: str
    variant: str
    protocol: str
    features: dict[str, list[Any]]
    labels: list[Any]
    probabilities: list[list[float]] | None = None
    classes: list[Any] | None = None


class Sink(Protocol):
    def write(self, records: Sequence[InferenceRecord]) -> None: ...


def to_rows(records: Sequence[InferenceRecord]) -> dict[str, list[Any]]:
    """Columns for Parquet: one entry per input row across all records."""
    columns: dict[str, list[Any]] = {
        key: [] for key in ("time", "request_id", "model", "model_version", "variant", "protocol")
    }
    for record in records:
        n = len(record.labels)
        for key, value in (
            ("time", record.time),
            ("request_id", record.request_id),
            ("model", record.model),
            ("model_version", record.version),
            ("variant", record.variant),
            ("protocol", record.protocol),
        ):
            columns[key].extend([value] * n)
        for name, values in record.features.items():
            columns.setdefault(f"feature.{name}", []).extend(values)
        columns.setdefault("prediction", []).extend(record.labels)
        if record.probabilities is not None and record.classes is not None:
            for i, label in enumerate(record.classes):
                columns.setdefault(f"proba.{label}", []).extend(p[i] for p in record.probabilities)
    return columns


class ParquetSink:
    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)

    def write(self, records: Sequence[InferenceRecord]) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        groups: dict[tuple[str, str, str], list[InferenceRecord]] = {}
        for record in records:
            key = (record.model, record.version, record.time.date().isoformat())
            groups.setdefault(key, []).append(record)
        for (model, version, day), group in groups.items():
            folder = self.directory / f"model={model}" / f"version={version}" / f"date={day}"
            folder.mkdir(parents=True, exist_ok=True)
            stamp = group[0].time.strftime("%H%M%S")
            table = pa.table(to_rows(group))
            pq.write_table(table, folder / f"part-{stamp}-{uuid.uuid4().hex[:8]}.parquet")


def to_cloudevents(record: InferenceRecord, source: str) -> list[CloudEvent]:
    """The request and response events of a record, with KServe's logger attributes."""
    from cloudevents.http import CloudEvent

    instances = [
        dict(zip(record.features, row, strict=True))
        for row in zip(*record.features.values(), strict=True)
    ]
    response: dict[str, Any] = {"predictions": record.labels}
    if record.probabilities is not None:
        response["probabilities"] = record.probabilities
        response["classes"] = record.classes
    common = {
        "specversion": "1.0",
        "id": record.request_id,
        "source": source,
        "time": record.time.isoformat(),
        "datacontenttype": "application/json",
        "inferenceservicename": record.model,
        "modelversion": record.version,
        "variant": record.variant,
        "endpoint": record.protocol,
    }
    return [
        CloudEvent({**common, "type": REQUEST_EVENT}, {"instances": instances}),
        CloudEvent({**common, "type": RESPONSE_EVENT}, response),
    ]


def _json_data(data: Any) -> str:
    # Feature values that JSON has no type for (numpy scalars, timestamps) go as text.
    return json.dumps(data, default=str)


def binary_mode(event: CloudEvent) -> tuple[dict[str, str], bytes]:
    """HTTP headers (``ce-*``, ``content-type``) and JSON body of an event in binary mode."""
    from cloudevents.conversion import to_binary

    return to_binary(event, data_marshaller=_json_data)


class CloudEventSink:
    def __init__(self, url: str, source: str = "kfops-model-server", timeout_s: float = 5.0):
        import httpx

        self.url = url
        self.source = source
        self._client = httpx.Client(timeout=timeout_s)

    def write(self, records: Sequence[InferenceRecord]) -> None:
        for record in records:
            for event in to_cloudevents(record, self.source):
                headers, body = binary_mode(event)
                self._client.post(self.url, content=body, headers=headers).raise_for_status()


class InferenceLogger:
    """Samples records on the hot path; writes them to the sinks from its own thread."""

    def __init__(
        self,
        sinks: Sequence[Sink],
        sample_rate: float,
        *,
        flush_rows: int = 1000,
        flush_seconds: float = 10.0,
        max_pending: int = 100_000,
        draw: Callable[[], float] = random.random,
    ) -> None:
        self.sinks = list(sinks)
        self.sample_rate = sample_rate if self.sinks else 0.0
        self.dropped = 0
        self._flush_rows = flush_rows
        self._flush_seconds = flush_seconds
        self._max_pending = max_pending
        self._draw = draw
        self._pending: list[InferenceRecord] = []
        self._wake = threading.Condition()
        self._closed = False
        self._thread: threading.Thread | None = None

    def sampled(self) -> bool:
        """Whether to record this request: one random draw, no lock."""
        return self.sample_rate > 0 and (self.sample_rate >= 1 or self._draw() < self.sample_rate)

    def add(self, record: InferenceRecord) -> None:
        with self._wake:
            if len(self._pending) >= self._max_pending:
                self.dropped += 1
                return
            self._pending.append(record)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._loop, name="kfops-inference-log", daemon=True
                )
                self._thread.start()
            if len(self._pending) >= self._flush_rows:
                self._wake.notify()

    def _loop(self) -> None:
        while True:
            with self._wake:
                if not self._closed and len(self._pending) < self._flush_rows:
                    self._wake.wait(self._flush_seconds)
                batch, self._pending = self._pending, []
                closed = self._closed
            self._write(batch)
            if closed:
                return

    def _write(self, batch: list[InferenceRecord]) -> None:
        if not batch:
            return
        for sink in self.sinks:
            try:
                sink.write(batch)
            except Exception as exc:  # a sink's failure must not reach the requests
                self.dropped += len(batch)
                log.warning(
                    "inference log: %s lost %d records: %s", type(sink).__name__, len(batch), exc
                )

    def close(self, timeout_s: float = 10.0) -> None:
        """Write what is pending and stop the thread."""
        with self._wake:
            self._closed = True
            self._wake.notify()
            thread = self._thread
        if thread is not None:
            thread.join(timeout_s)
        else:
            self._write(self._pending)
            self._pending = []


def now() -> datetime:
    return datetime.now(UTC)
