"""The ``serving:`` section: the model server (``kfops serve``) and its InferenceService."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from kfops.config.sections import Strict


class InferenceLogConfig(Strict):
    sample_rate: float = Field(
        0.0, ge=0.0, le=1.0, description="Share of requests recorded for drift analysis."
    )
    path: str | None = Field(
        None, description="Folder for Parquet records; default <runtime.root>/inference-log."
    )
    url: str | None = Field(
        None, description="CloudEvents sink (KServe logger format), e.g. a Knative broker."
    )
    flush_seconds: float = Field(10.0, gt=0.0)
    flush_rows: int = Field(1000, ge=1)


class ServingResources(Strict):
    cpu_request: str = "500m"
    cpu_limit: str = "2"
    memory_request: str = "512Mi"
    memory_limit: str = "1Gi"


class ServingAutoscaling(Strict):
    min_replicas: int = Field(1, ge=0, description="0 lets Serverless mode scale to zero.")
    max_replicas: int = Field(3, ge=1)
    metric: Literal["concurrency", "rps", "cpu", "memory"] = "concurrency"
    target: int = Field(32, ge=1, description="Per replica: requests in flight, req/s or %.")


class ServingConfig(Strict):
    """The model server (``kfops serve``) and its InferenceService (``kfops deploy``)."""

    model_uri: str | None = Field(
        None, description="models:/NAME@ALIAS, models:/NAME/VERSION or a storage URI."
    )
    variant: str = Field("champion", description="Label on metrics and logs: champion, canary...")
    port: int = Field(8080, ge=0, le=65535)
    grpc_port: int | None = Field(
        None, ge=0, le=65535, description="Open Inference Protocol gRPC port (KServe uses 8081)."
    )
    max_batch_size: int = Field(32, ge=1, description="Rows per model call.")
    max_wait_ms: float = Field(25.0, ge=0.0, description="Longest a request waits for company.")
    inference: Literal["process", "thread"] = Field(
        "process", description="Run the model in child processes, or in threads of the server."
    )
    workers: int = Field(1, ge=1, le=16, description="Batches computed at once.")
    max_queue_rows: int = Field(4096, ge=1, description="Queued rows before answering 503.")
    max_body_bytes: int = Field(1_048_576, ge=1024)
    nan_policy: Literal["reject", "allow"] = "reject"
    entity_keys: list[str] = Field(
        default_factory=list,
        description="Rows naming only these keys are completed from the online store.",
    )
    grace_period_seconds: int = Field(30, ge=0, description="Drain time on shutdown.")
    inference_log: InferenceLogConfig = Field(default_factory=InferenceLogConfig)
    runtime: Literal["kfops", "sklearn"] = Field(
        "kfops", description="kfops predictor image, or KServe's sklearn runtime."
    )
    deployment_mode: Literal["Serverless", "RawDeployment"] = "Serverless"
    namespace: str | None = Field(None, description="Default cluster.namespace, else 'default'.")
    service_name: str | None = Field(
        None, description="InferenceService name; default the model's."
    )
    image: str | None = Field(None, description="Predictor image; default cluster.image.")
    service_account: str | None = None
    resources: ServingResources = Field(default_factory=ServingResources)
    autoscaling: ServingAutoscaling = Field(default_factory=ServingAutoscaling)
    ready_timeout_seconds: int = Field(600, ge=1)

    @model_validator(mode="after")
    def _replicas(self) -> ServingConfig:
        scaling = self.autoscaling
        if scaling.min_replicas > scaling.max_replicas:
            raise ValueError(
                f"serving.autoscaling.min_replicas {scaling.min_replicas} is above "
                f"max_replicas {scaling.max_replicas}; lower it"
            )
        return self
