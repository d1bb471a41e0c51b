"""The whole ``kfops.yaml``: every section in one model, and where its state lives."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field, model_validator

from kfops.config.drift import DriftConfig
from kfops.config.rollout import RolloutPlan
from kfops.config.sections import (
    ClusterConfig,
    DataConfig,
    FeaturesConfig,
    ModelConfig,
    PromotionMode,
    RegistryConfig,
    RuntimeConfig,
    Strict,
    TrackingConfig,
    UserStepConfig,
    ValidationConfig,
)
from kfops.config.serving import ServingConfig
from kfops.config.tuning import TuningConfig

TRACKING_URI_ENV = "MLFLOW_TRACKING_URI"
REGISTRY_URI_ENV = "MLFLOW_REGISTRY_URI"


BUILTIN_STEPS: tuple[str, ...] = (
    "drift",
    "ingest",
    "features",
    "validate",
    "tune",
    "train",
    "evaluate",
    "register",
    "promote",
    "deploy",
)
"""kfops' own steps, in pipeline order (drift: the retraining pipeline's first); a user
step may not take one of these names, and ``cluster.components`` may name only these."""


class KfopsConfig(Strict):
    project: str = Field(..., pattern=r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
    data: DataConfig
    validation: ValidationConfig = Field(default_factory=ValidationConfig)
    features: FeaturesConfig | None = None
    model: ModelConfig = Field(default_factory=ModelConfig)
    registry: RegistryConfig = Field(default_factory=RegistryConfig)
    tracking: TrackingConfig = Field(default_factory=TrackingConfig)
    runtime: RuntimeConfig = Field(default_factory=RuntimeConfig)
    cluster: ClusterConfig = Field(default_factory=ClusterConfig)
    tuning: TuningConfig | None = None
    serving: ServingConfig | None = None
    rollout: RolloutPlan | None = None
    drift: DriftConfig | None = None
    steps: list[UserStepConfig] = Field(
        default_factory=list,
        description="The user's own steps at named points of the training pipeline.",
    )
    base_dir: str | None = Field(
        None, description="Directory of the config file; set by the loader."
    )

    @model_validator(mode="after")
    def _target_not_dropped(self) -> KfopsConfig:
        if self.data.target in self.data.drop_columns:
            raise ValueError(f"data.drop_columns contains the target '{self.data.target}'")
        return self

    @model_validator(mode="after")
    def _rollout_promotion_needs_a_rollout(self) -> KfopsConfig:
        if self.registry.promotion is PromotionMode.ROLLOUT and self.rollout is None:
            raise ValueError(
                "registry.promotion is 'rollout' but there is no rollout: section to move "
                "champion; add one (docs/rollouts.md) or set registry.promotion: direct"
            )
        return self

    @model_validator(mode="after")
    def _step_names_unique(self) -> KfopsConfig:
        seen: set[str] = set()
        for step in self.steps:
            if step.name in BUILTIN_STEPS or step.name in seen:
                raise ValueError(
                    f"steps: the name '{step.name}' is taken (a built-in step or an earlier "
                    "user step); give each step its own name"
                )
            seen.add(step.name)
        return self

    @property
    def promotion(self) -> PromotionMode:
        """registry.promotion, else 'rollout' when a rollout: section is set, else 'direct'."""
        if self.registry.promotion is not None:
            return self.registry.promotion
        return PromotionMode.ROLLOUT if self.rollout is not None else PromotionMode.DIRECT

    @property
    def model_name(self) -> str:
        return self.registry.model_name or f"{self.project}-model"

    @property
    def experiment_name(self) -> str:
        return self.tracking.experiment or self.project

    @property
    def state_dir(self) -> Path:
        return Path(self.runtime.root)

    def tracking_server_uri(self) -> str | None:
        """The MLflow store the user named: tracking.uri, else $MLFLOW_TRACKING_URI.

        The file wins over the environment, as an explicit setting should; None means
        neither is set and runs go to the local store under runtime.root.
        """
        return self.tracking.uri or os.environ.get(TRACKING_URI_ENV) or None

    def resolved_tracking_uri(self) -> str:
        """tracking.uri, else $MLFLOW_TRACKING_URI, else sqlite under runtime.root."""
        return self.tracking_server_uri() or f"sqlite:///{(self.state_dir / 'mlflow.db').resolve()}"

    def resolved_registry_uri(self) -> str:
        """tracking.registry_uri, else $MLFLOW_REGISTRY_URI, else the tracking store (as
        MLflow itself falls back)."""
        return (
            self.tracking.registry_uri
            or os.environ.get(REGISTRY_URI_ENV)
            or self.resolved_tracking_uri()
        )

    def resolved_artifact_location(self) -> str | None:
        """tracking.artifact_location; with a tracking server, the server's default (None);
        with the local store, mlartifacts under runtime.root."""
        if self.tracking.artifact_location:
            return self.tracking.artifact_location
        if self.tracking_server_uri():
            return None
        return (self.state_dir / "mlartifacts").resolve().as_uri()
