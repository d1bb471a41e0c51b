"""The sections every kfops.yaml has: data, validation, features, model, registry,
tracking, runtime and cluster."""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

CONFIG_FILENAME = "kfops.yaml"
STATE_DIRNAME = ".kfops"
# One Beam pipeline option: --name=value (any one-line value) or a bare --flag.
BEAM_FLAG = re.compile(r"--[A-Za-z_][A-Za-z0-9_-]*(=[^\n\r]*)?")


class TaskType(StrEnum):
    CLASSIFICATION = "classification"
    REGRESSION = "regression"


class PromotionMode(StrEnum):
    """Who moves ``champion`` after the gate: the gate itself, or a rollout."""

    DIRECT = "direct"
    ROLLOUT = "rollout"


class DataFormat(StrEnum):
    AUTO = "auto"
    CSV = "csv"
    PARQUET = "parquet"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class SplitConfig(Strict):
    test_size: float = Field(0.2, gt=0.0, lt=1.0)
    seed: int = 42
    stratify: bool = True


class DataConfig(Strict):
    path: str = Field(..., description="Path or URI of the dataset (CSV or Parquet).")
    format: DataFormat = DataFormat.AUTO
    target: str
    task: TaskType | None = Field(None, description="Inferred from the target when absent.")
    entity_column: str | None = None
    timestamp_column: str | None = None
    drop_columns: list[str] = Field(default_factory=list)
    split: SplitConfig = Field(default_factory=SplitConfig)


def _beam_flag(flag: str) -> str:
    if not BEAM_FLAG.fullmatch(flag):
        raise ValueError("not a Beam flag; write it as '--name=value' or '--flag', one per item")
    return flag


class ValidationConfig(Strict):
    enabled: bool = True
    schema_path: str | None = Field(
        None, description="Curated TFDV schema (pbtxt). Inferred and saved when the file is absent."
    )
    schema_text: str | None = Field(
        None, description="The schema's text itself; set by kfops submit, wins over schema_path."
    )
    min_rows: int = Field(20, ge=1)
    categorical_min_domain_mass: float = Field(
        1.0, ge=0.0, le=1.0, description="Share of a categorical column's values inside its domain."
    )
    max_missing_fraction: float | None = Field(
        None, ge=0.0, le=1.0, description="Cap on missing values per column in inferred schemas."
    )
    drift_threshold: float | None = Field(
        None, gt=0.0, le=1.0, description="L-infinity / Jensen-Shannon bound, train vs test."
    )
    beam_options: list[Annotated[str, AfterValidator(_beam_flag)]] = Field(
        default_factory=list,
        description="Beam flags (--runner=FlinkRunner, --direct_num_workers=2): statistics "
        "come from a Beam pipeline on these options instead of in-memory frames.",
    )


class FeaturesConfig(Strict):
    repo: str = Field(..., description="Feast repository folder, relative to this file.")
    service: str = Field(..., description="FeatureService naming the model's features.")
    store_yaml: str = Field(
        "feature_store.yaml",
        description="Store profile in the repo, e.g. feature_store.redis.yaml.",
    )
    files: dict[str, str] | None = Field(
        None, description="The repo's definition files by relative path; set by kfops submit."
    )
    cutoff: str | None = Field(
        None, description="Materialize up to this ISO-8601 time; default the latest event."
    )

    @field_validator("cutoff")
    @classmethod
    def _iso(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                datetime.fromisoformat(value)
            except ValueError:
                raise ValueError(
                    f"'{value}' is not an ISO-8601 time; write it like 2025-12-31T00:00:00Z"
                ) from None
        return value


DEFAULT_ESTIMATORS: dict[TaskType, str] = {
    TaskType.CLASSIFICATION: "sklearn.ensemble.RandomForestClassifier",
    TaskType.REGRESSION: "sklearn.ensemble.RandomForestRegressor",
}


def _dotted_path(value: str) -> str:
    if "." not in value or value.startswith(".") or value.endswith("."):
        raise ValueError(f"'{value}' is not a dotted path; write it like package.module.Name")
    return value


class PreprocessingStep(Strict):
    """One scikit-learn transformer of ``model.preprocessing``, fitted inside the model."""

    transformer: Annotated[str, AfterValidator(_dotted_path)] = Field(
        ..., description="Dotted path of a transformer class (fit and transform)."
    )
    params: dict[str, Any] = Field(default_factory=dict)
    columns: list[str] | None = Field(
        None,
        description="Only these raw columns, in place of kfops' impute and one-hot (its "
        "output must be numeric); absent: every feature column, before kfops' own encoding.",
    )


class ModelConfig(Strict):
    estimator: str | None = Field(
        None,
        description="Dotted path of a scikit-learn estimator; default a RandomForest for the task.",
    )
    params: dict[str, Any] = Field(default_factory=dict)
    preprocessing: list[PreprocessingStep] = Field(
        default_factory=list,
        description="The user's transformers, part of the fitted model (one, or a list).",
    )

    @field_validator("preprocessing", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [{"transformer": value}]
        return [value] if isinstance(value, dict) else value

    def estimator_for(self, task: TaskType) -> str:
        return self.estimator or DEFAULT_ESTIMATORS[task]

    @field_validator("estimator")
    @classmethod
    def _dotted(cls, value: str | None) -> str | None:
        if value is None:
            return value
        if "." not in value or value.startswith(".") or value.endswith("."):
            raise ValueError(
                f"'{value}' is not a dotted path; write it like sklearn.ensemble.RandomForestClassifier"
            )
        return value


class StepPoint(StrEnum):
    """Where in the training pipeline a user step runs: after this built-in step."""

    INGEST = "ingest"
    FEATURES = "features"
    EVALUATE = "evaluate"


class UserStepConfig(Strict):
    """One of ``steps:``: the user's own step, a Python function or a KFP component YAML.

    After ingest or features it gets each split as a DataFrame and returns the split the
    next steps see; after evaluate it gets the fitted model and the test split and returns
    extra metrics for the run, before the gate.
    """

    name: str = Field(
        ...,
        pattern=r"^[a-z0-9]([a-z0-9-]{0,40}[a-z0-9])?$",
        description="The task's name in the pipeline and in errors (lower-case, dashes).",
    )
    after: StepPoint = Field(
        ..., description="Runs after this built-in step: its output is what the next one sees."
    )
    function: Annotated[str, AfterValidator(_dotted_path)] | None = Field(
        None, description="Dotted path of the step's function, e.g. my_project.steps.clean."
    )
    component: str | None = Field(
        None, description="A KFP component YAML, relative to this file (instead of function)."
    )
    params: dict[str, Any] = Field(
        default_factory=dict, description="Keyword arguments of the function."
    )
    image: str | None = Field(
        None, description="Image in a cluster; default the train step's (see kfops images --with)."
    )

    @model_validator(mode="after")
    def _one_kind(self) -> UserStepConfig:
        if (self.function is None) == (self.component is None):
            raise ValueError(
                f"step '{self.name}' needs exactly one of function: (a dotted path) or "
                "component: (a KFP component YAML)"
            )
        return self


class RegistryConfig(Strict):
    model_name: str | None = Field(None, description="Defaults to '<project>-model'.")
    promotion_metric: str | None = Field(
        None, description="Defaults to roc_auc (classification) or rmse (regression)."
    )
    min_improvement: float = Field(0.0, ge=0.0)
    promotion: PromotionMode | None = Field(
        None,
        description=(
            "What a version that passes the gate gets: 'direct' moves champion at once; "
            "'rollout' moves challenger only and leaves champion to the rollout. Defaults to "
            "'rollout' when a rollout: section is set, else 'direct'."
        ),
    )


class TrackingConfig(Strict):
    uri: str | None = Field(None, description="MLflow tracking URI; default sqlite under .kfops/.")
    registry_uri: str | None = None
    experiment: str | None = Field(None, description="Defaults to the project name.")
    artifact_location: str | None = None


class RuntimeConfig(Strict):
    root: str = Field(STATE_DIRNAME, description="Local state: pipeline root, cache, MLflow store.")
    caching: bool = True


class ComponentResources(Strict):
    cpu_request: str | None = None
    cpu_limit: str | None = None
    memory_request: str | None = None
    memory_limit: str | None = None


class ClusterConfig(Strict):
    image: str = "ghcr.io/kfops/kfops:0.1.0"
    tfdv_image: str = "ghcr.io/kfops/kfops-tfdv:0.1.0"
    images: dict[str, str] = Field(
        default_factory=dict, description="Per-component image overrides, by component name."
    )
    resources: dict[str, ComponentResources] = Field(default_factory=dict)
    node_selector: dict[str, str] = Field(default_factory=dict)
    secrets_as_env: dict[str, dict[str, str]] = Field(
        default_factory=dict, description="Secret name -> {secret key: env var}."
    )
    host: str | None = None
    experiment: str | None = None
    namespace: str | None = Field(None, description="KFP profile namespace (multi-user only).")
    service_account: str | None = None
