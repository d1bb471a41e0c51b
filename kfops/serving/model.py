"""The served model as kserve sees it: a ``kserve.Model`` that hands work to the data plane.

It knows nothing of HTTP: the server's routes hand it a parsed JSON body
(:meth:`KfopsModel.infer_v1`, :meth:`KfopsModel.infer_v2`), kserve's own DataPlane a dict
or an ``InferRequest`` (:meth:`KfopsModel.predict`); a codec translates, the data plane
does the rest.
:func:`build_model` assembles one from a loaded model and the ``serving:`` settings.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kfops.config import ServingConfig
from kfops.serving.dataplane import BatchSettings, DataPlane, OnlineFeatures
from kfops.serving.inference_log import CloudEventSink, InferenceLogger, ParquetSink, Sink
from kfops.serving.kserve_import import InferRequest, InferResponse, Model
from kfops.serving.loader import LoadedModel
from kfops.serving.metrics import ServingMetrics
from kfops.serving.predictor import Predictor
from kfops.serving.protocols import OutputTensor, V1Codec, V2Codec, from_infer_request
from kfops.serving.signature import InputSchema, NanPolicy
from kfops.serving.worker import InferencePool


class KfopsModel(Model):
    def __init__(self, dataplane: DataPlane) -> None:
        super().__init__(dataplane.model)
        self.dataplane = dataplane
        self.v1 = V1Codec()
        self.v2 = V2Codec(dataplane.schema, dataplane.predictor.classes)
        self.ready = True  # loaded and verified before it is built

    def load(self) -> bool:
        return self.ready

    async def infer_v1(self, payload: Any, request_id: str = "") -> dict[str, Any]:
        request = self.v1.decode(payload, request_id)
        return self.v1.encode(await self.dataplane.infer(request))

    async def infer_v2(self, payload: Any) -> dict[str, Any]:
        request = self.v2.decode(payload)
        wanted = self.v2.requested_outputs(payload)
        return self.v2.encode(await self.dataplane.infer(request), request.request_id, wanted)

    async def infer_v2_tensors(self, payload: Any) -> tuple[dict[str, Any], list[OutputTensor]]:
        """The response's header fields and its outputs as arrays (binary REST, gRPC)."""
        request = self.v2.decode(payload)
        wanted = self.v2.requested_outputs(payload)
        prediction = await self.dataplane.infer(request)
        header = self.v2.encode(prediction, request.request_id, set())
        return header, self.v2.output_tensors(prediction, wanted)

    async def predict(
        self,
        payload: Any,
        headers: dict[str, str] | None = None,
        response_headers: dict[str, str] | None = None,
    ) -> Any:
        """kserve's entry (its DataPlane, e.g. CloudEvents or gRPC): the same two paths."""
        if isinstance(payload, InferRequest):
            return InferResponse.from_rest(await self.infer_v2(from_infer_request(payload)))
        return await self.infer_v1(payload, (headers or {}).get("x-request-id", ""))

    def get_input_types(self) -> list[dict[str, Any]]:
        return self.v2.input_metadata()

    def get_output_types(self) -> list[dict[str, Any]]:
        return self.v2.output_metadata()

    def stop(self) -> None:
        self.ready = False


def _sinks(settings: ServingConfig, default_log_dir: Path | None, model: str) -> list[Sink]:
    config = settings.inference_log
    sinks: list[Sink] = []
    if config.sample_rate <= 0:
        return sinks
    folder = config.path or (str(default_log_dir) if default_log_dir else None)
    if folder:
        sinks.append(ParquetSink(folder))
    if config.url:
        sinks.append(CloudEventSink(config.url, source=f"kfops-model-server/{model}"))
    return sinks


def build_model(
    loaded: LoadedModel,
    settings: ServingConfig,
    *,
    name: str | None = None,
    metrics: ServingMetrics | None = None,
    online_features: OnlineFeatures | None = None,
    default_log_dir: Path | None = None,
) -> KfopsModel:
    """Wire schema, predictor, metrics, inference log and batcher around a loaded model."""
    served = name or loaded.ref.name or "model"
    predictor = Predictor(loaded.estimator)
    schema = InputSchema.from_mlflow(
        loaded.signature_inputs, predictor.feature_names, NanPolicy(settings.nan_policy)
    )
    metrics = metrics or ServingMetrics(served, loaded.version, settings.variant)
    metrics.describe_model(
        source=loaded.ref.uri, alias=loaded.ref.alias or "", sha256=loaded.sha256,
        verified=str(loaded.verified).lower(),
    )  # fmt: skip
    if loaded.created_at is not None:
        metrics.version_created(loaded.created_at)
    config = settings.inference_log
    sinks = _sinks(settings, default_log_dir, served)
    log = (
        InferenceLogger(
            sinks,
            config.sample_rate,
            flush_rows=config.flush_rows,
            flush_seconds=config.flush_seconds,
        )  # fmt: skip
        if sinks
        else None
    )
    dataplane = DataPlane(
        served,
        loaded.version,
        settings.variant,
        schema,
        predictor,
        metrics,
        batching=BatchSettings(
            max_batch_rows=settings.max_batch_size,
            max_wait_s=settings.max_wait_ms / 1000.0,
            workers=settings.workers,
            max_queue_rows=settings.max_queue_rows,
        ),
        inference_log=log,
        online_features=online_features,
        pool=InferencePool(loaded.estimator, settings.workers)
        if settings.inference == "process"
        else None,
    )
    return KfopsModel(dataplane)
