"""The protocol-agnostic data plane: check, complete, batch, infer, observe.

The V1 and V2 codecs turn a request into a :class:`TabularRequest` (rows or columns, not
yet trusted) and a :class:`Prediction` back into their protocol's response; everything in
between happens here, once for both protocols:

1. check the values against the model's signature (:mod:`signature`), or, when the rows
   name entities only, complete them from the online feature store first;
2. queue the checked features on the :class:`AdaptiveBatcher`;
3. in the batch's worker thread: one DataFrame, one model call (in a child process when
   a :class:`~kfops.serving.worker.InferencePool` is given), one :class:`Prediction` slice
   per request; then, in an observer thread off the requests' path, the batch's
   metrics and the sampled inference-log records.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from kfops.errors import KfopsError
from kfops.serving.batcher import AdaptiveBatcher
from kfops.serving.errors import InputError, UpstreamError
from kfops.serving.inference_log import InferenceLogger, InferenceRecord, now
from kfops.serving.metrics import ServingMetrics
from kfops.serving.predictor import Output, Predictor
from kfops.serving.signature import Features, InputSchema, entity_rows
from kfops.serving.worker import InferencePool


class OnlineFeatures(Protocol):
    """Looks up feature vectors for entity rows (kfops.features.online, or a fake)."""

    entity_keys: frozenset[str]

    def lookup(
        self, entity_rows: list[dict[str, Any]], feature_order: list[str]
    ) -> dict[str, list[Any]]:
        """The columns of ``feature_order``, a value per entity row; unknown entities: None."""
        ...


@dataclass(frozen=True, slots=True)
class TabularRequest:
    """A decoded request: rows (objects or lists) or columns (name -> values)."""

    rows: list[Any] | None = None
    columns: dict[str, list[Any]] | None = None
    request_id: str = ""
    protocol: str = "v1"


@dataclass(frozen=True, slots=True)
class Prediction:
    labels: np.ndarray
    probabilities: np.ndarray | None
    classes: list[Any] | None
    model: str
    version: str


@dataclass(frozen=True, slots=True)
class BatchSettings:
    max_batch_rows: int = 32
    max_wait_s: float = 0.025
    workers: int = 1
    max_queue_rows: int = 4096


@dataclass(frozen=True, slots=True)
class _Job:
    features: Features
    request_id: str
    protocol: str


class DataPlane:
    def __init__(
        self,
        model: str,
        version: str,
        variant: str,
        schema: InputSchema,
        predictor: Predictor,
        metrics: ServingMetrics,
        *,
        batching: BatchSettings | None = None,
        inference_log: InferenceLogger | None = None,
        online_features: OnlineFeatures | None = None,
        pool: InferencePool | None = None,
    ) -> None:
        self.model = model
        self.version = version
        self.variant = variant
        self.schema = schema
        self.predictor = predictor
        self.metrics = metrics
        self.inference_log = inference_log
        self.online_features = online_features
        self.pool = pool
        self._observer = ThreadPoolExecutor(1, thread_name_prefix="kfops-observe")
        settings = batching or BatchSettings()
        self._batcher: AdaptiveBatcher[_Job, Prediction] = AdaptiveBatcher(
            self._run,
            max_batch_rows=settings.max_batch_rows,
            max_wait_s=settings.max_wait_s,
            workers=settings.workers,
            max_queue_rows=settings.max_queue_rows,
        )

    async def infer(self, request: TabularRequest) -> Prediction:
        features = await self.check(request)
        job = _Job(features, request.request_id, request.protocol)
        return await self._batcher.submit(job, features.n_rows)

    async def check(self, request: TabularRequest) -> Features:
        """Checked features for a request, looked up first when it names entities only."""
        keys = self.online_features.entity_keys if self.online_features else frozenset()
        rows = request.rows
        if request.columns is not None:
            if keys and request.columns and request.columns.keys() <= keys:
                if len({len(values) for values in request.columns.values()}) > 1:
                    raise InputError("entity key columns differ in length; send one key per row")
                names = list(request.columns)
                rows = [
                    dict(zip(names, values, strict=True))
                    for values in zip(*request.columns.values(), strict=True)
                ]
            else:
                return self.schema.check_columns(request.columns)
        entities = entity_rows(rows, keys)
        if entities is not None:
            return await self._lookup(entities)
        return self.schema.check_rows(rows or [])

    async def _lookup(self, entities: list[dict[str, Any]]) -> Features:
        assert self.online_features is not None
        order = list(self.schema.model_order)
        try:
            found = await asyncio.get_running_loop().run_in_executor(
                None, self.online_features.lookup, entities, order
            )
        except KfopsError:
            raise
        except Exception as exc:
            raise UpstreamError(
                f"online feature lookup for {len(entities)} entities failed "
                f"({type(exc).__name__}: {exc}); retry, or send the features themselves"
            ) from exc
        # NaN (a float the store kept for "no value") counts as missing, like None.
        columns = {
            name: [None if v is None or v != v else v for v in found[name]] for name in order
        }
        try:
            return self.schema.check_columns(columns)
        except InputError as exc:
            raise InputError(
                f"after the online-store lookup of {entities[0]}...: {exc.message} "
                "(is the entity known and materialized?)"
            ) from exc

    def _run(self, jobs: list[_Job]) -> list[Prediction]:
        """One model call for the batch, in a worker thread; observing happens after."""
        started = time.perf_counter()
        arrays = self.schema.arrays([job.features for job in jobs])
        try:
            if self.pool is not None:
                output = self.pool.predict(arrays)
            else:
                output = self.predictor.predict_columns(arrays)
        except (ValueError, TypeError) as exc:  # the estimator's own input validation
            raise InputError(f"the model cannot use this input: {exc}") from exc
        seconds = time.perf_counter() - started
        predictions = []
        start = 0
        for job in jobs:
            end = start + job.features.n_rows
            probabilities = output.probabilities
            predictions.append(
                Prediction(
                    output.labels[start:end],
                    probabilities[start:end] if probabilities is not None else None,
                    self.predictor.classes,
                    self.model,
                    self.version,
                )
            )
            start = end
        self._observer.submit(self._observe, jobs, arrays, output, predictions, seconds)
        return predictions

    def _observe(
        self,
        jobs: list[_Job],
        arrays: dict[str, np.ndarray],
        output: Output,
        predictions: list[Prediction],
        seconds: float,
    ) -> None:
        """Metrics and sampled log records of a batch, off the requests' path."""
        self.metrics.observe_batch(len(jobs), len(output.labels), seconds)
        self.metrics.observe_outputs(output.labels, output.probabilities)
        self.metrics.observe_features(arrays)
        log = self.inference_log
        if log is not None:
            for job, prediction in zip(jobs, predictions, strict=True):
                if log.sampled():
                    log.add(self._record(job, prediction))

    def _record(self, job: _Job, prediction: Prediction) -> InferenceRecord:
        probabilities = prediction.probabilities
        return InferenceRecord(
            time=now(),
            request_id=job.request_id or uuid.uuid4().hex,
            model=self.model,
            version=self.version,
            variant=self.variant,
            protocol=job.protocol,
            features=job.features.columns,
            labels=prediction.labels.tolist(),
            probabilities=probabilities.tolist() if probabilities is not None else None,
            classes=prediction.classes,
        )

    @property
    def busy(self) -> bool:
        return self._batcher.busy

    async def close(self, timeout_s: float = 30.0) -> None:
        """Finish queued requests, then write the pending inference-log records."""
        await self._batcher.close(timeout_s)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, self._observer.shutdown)
        if self.pool is not None:
            await loop.run_in_executor(None, self.pool.close)
        if self.inference_log is not None:
            await loop.run_in_executor(None, self.inference_log.close)
