"""The ``kfops.yaml`` model: one file that describes a model's life.

Unknown keys are errors (as in Feast's repo config) so a typo never silently falls back
to a default. Paths in the file are relative to the file itself; the loader makes them
absolute so that pipeline steps, which run in other processes, see the same files.
"""

from __future__ import annotations

import builtins
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic import ValidationError as PydanticValidationError

from kfops.errors import ConfigurationError
from kfops.rollout.spec import RolloutPlan

CONFIG_FILENAME = "kfops.yaml"
STATE_DIRNAME = ".kfops"


class TaskType(StrEnum):
    CLASSIFICATION = "classification"
    REGRESSION = "regression"


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


class ValidationConfig(Strict):
    enabled: bool = True
    schema_path: str | None = Field(
        None, description="Curated TFDV schema (pbtxt). Inferred and saved when the file is absent."
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


class FeaturesConfig(Strict):
    repo: str = Field(..., description="Feast repository folder, relative to this file.")
    service: str = Field(..., description="FeatureService naming the model's features.")
    store_yaml: str = Field(
        "feature_store.yaml",
        description="Store profile in the repo, e.g. feature_store.redis.yaml.",
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


class ModelConfig(Strict):
    estimator: str | None = Field(
        None,
        description="Dotted path of a scikit-learn estimator; default a RandomForest for the task.",
    )
    params: dict[str, Any] = Field(default_factory=dict)

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


class RegistryConfig(Strict):
    model_name: str | None = Field(None, description="Defaults to '<project>-model'.")
    promotion_metric: str | None = Field(
        None, description="Defaults to roc_auc (classification) or rmse (regression)."
    )
    min_improvement: float = Field(0.0, ge=0.0)


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


class TuningBackend(StrEnum):
    AUTO = "auto"  # Katib when running inside a Kubernetes pod, the embedded tuner elsewhere
    LOCAL = "local"
    KATIB = "katib"


class ParameterType(StrEnum):
    INT = "int"
    DOUBLE = "double"
    DISCRETE = "discrete"
    CATEGORICAL = "categorical"


class KatibAlgorithm(StrEnum):
    RANDOM = "random"
    TPE = "tpe"
    MULTIVARIATE_TPE = "multivariate-tpe"
    GRID = "grid"
    CMAES = "cmaes"
    SOBOL = "sobol"
    BAYESIAN_OPTIMIZATION = "bayesianoptimization"
    HYPERBAND = "hyperband"


KATIB_ALGORITHM_SETTINGS: dict[KatibAlgorithm, tuple[str, ...]] = {
    KatibAlgorithm.RANDOM: ("random_state",),
    KatibAlgorithm.TPE: ("n_startup_trials", "n_ei_candidates", "random_state"),
    KatibAlgorithm.MULTIVARIATE_TPE: ("n_startup_trials", "n_ei_candidates", "random_state"),
    KatibAlgorithm.GRID: ("random_state",),
    KatibAlgorithm.CMAES: ("random_state", "sigma", "restart_strategy"),
    KatibAlgorithm.SOBOL: (),
    KatibAlgorithm.BAYESIAN_OPTIMIZATION: (
        "base_estimator",
        "n_initial_points",
        "acq_func",
        "acq_optimizer",
        "random_state",
    ),
    KatibAlgorithm.HYPERBAND: ("resource_name", "eta", "r_l"),
}
"""Katib's algorithms and the algorithmSettings its suggestion service for each accepts."""

_SETTING_CHOICES: dict[str, tuple[str, ...]] = {
    "restart_strategy": ("ipop", "bipop", "none"),
    "base_estimator": ("GP", "RF", "ET", "GBRT"),
    "acq_func": ("gp_hedge", "LCB", "EI", "PI", "EIps", "PIps"),
    "acq_optimizer": ("auto", "sampling", "lbfgs"),
}
_INT_SETTINGS = ("n_startup_trials", "n_ei_candidates", "random_state", "n_initial_points")


def katib_string(value: Any) -> str:
    """Katib carries values as strings. Integral floats become ints, since KFP passes every
    number as a double (100 -> 100.0); quote a value in YAML ('1.0') to keep it a float."""
    if isinstance(value, bool) or value is None:
        return {True: "true", False: "false", None: "null"}[value]
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _as_number(text: str | None) -> float | None:
    try:
        return float(text) if text is not None else None
    except ValueError:
        return None


class TuningObjective(Strict):
    metric: str | None = Field(
        None, description="A kfops.metrics name; default the promotion metric."
    )
    type: Literal["maximize", "minimize"] | None = Field(
        None, description="Default the metric's own direction."
    )
    goal: float | None = Field(None, description="Stop once the best trial reaches it.")

    @field_validator("metric")
    @classmethod
    def _known(cls, value: str | None) -> str | None:
        from kfops.metrics import METRIC_DIRECTIONS  # kfops.metrics imports this module

        if value is not None and value not in METRIC_DIRECTIONS:
            raise ValueError(f"unknown metric '{value}'; use one of {', '.join(METRIC_DIRECTIONS)}")
        return value


class TuningAlgorithm(Strict):
    name: KatibAlgorithm = KatibAlgorithm.TPE
    settings: dict[str, str] = Field(default_factory=dict, description="Katib algorithmSettings.")

    @field_validator("settings", mode="before")
    @classmethod
    def _strings(cls, value: Any) -> Any:
        return {k: katib_string(v) for k, v in value.items()} if isinstance(value, dict) else value


class FeasibleSpace(Strict):
    min: str | None = None
    max: str | None = None
    step: str | None = None
    list: builtins.list[str] | None = None
    distribution: Literal["uniform", "log_uniform"] | None = None

    @field_validator("min", "max", "step", mode="before")
    @classmethod
    def _bound(cls, value: Any) -> Any:
        return katib_string(value) if isinstance(value, int | float) else value

    @field_validator("list", mode="before")
    @classmethod
    def _values(cls, value: Any) -> Any:
        return [katib_string(v) for v in value] if isinstance(value, builtins.list) else value


class TuningParameter(Strict):
    name: str = Field(..., min_length=1, description="A constructor argument of the estimator.")
    type: ParameterType
    feasible_space: FeasibleSpace


class EarlyStopping(Strict):
    name: Literal["medianstop"] = "medianstop"
    min_trials_required: int = Field(3, ge=1)
    start_step: int = Field(2, ge=1, description="Counted in CV folds; Katib's default is 4.")


class TuningConfig(Strict):
    """Katib's Experiment spec in snake_case; the same spec drives the embedded tuner."""

    backend: TuningBackend = TuningBackend.AUTO
    objective: TuningObjective = Field(default_factory=TuningObjective)
    algorithm: TuningAlgorithm = Field(default_factory=TuningAlgorithm)
    parallel_trial_count: int = Field(3, ge=1)
    max_trial_count: int = Field(12, ge=1)
    max_failed_trial_count: int = Field(3, ge=0)
    parameters: list[TuningParameter] = Field(..., min_length=1)
    early_stopping: EarlyStopping | None = None
    cv_folds: int = Field(3, ge=2, le=20, description="Each trial's score: mean over k folds.")
    timeout_seconds: int = Field(21600, ge=1)

    @model_validator(mode="after")
    def _consistent(self) -> TuningConfig:
        problem = _tuning_problem(self)
        if problem:
            raise ValueError(problem)
        return self


def _space_problem(where: str, param: TuningParameter) -> str | None:
    space, ranged = param.feasible_space, param.type in (ParameterType.INT, ParameterType.DOUBLE)
    kind = "an integer" if param.type is ParameterType.INT else "a number"
    if ranged:
        if space.list is not None:
            return f"{where}.list: not used by type {param.type}; give min and max"
        for key in ("min", "max", "step"):
            text = getattr(space, key)
            number = _as_number(text)
            if text is None and key != "step":
                return f"{where}.{key}: required for type {param.type}; add it"
            if text is not None and (
                number is None or (kind == "an integer" and not number.is_integer())
            ):
                return f"{where}.{key}: '{text}' is not {kind}; write it like {'10' if kind == 'an integer' else '0.1'}"
        low, high, step = _as_number(space.min), _as_number(space.max), _as_number(space.step)
        assert low is not None and high is not None
        if low >= high:
            return f"{where}.min: {space.min} is not below max {space.max}; swap or widen them"
        if step is not None and not 0 < step <= high - low:
            return (
                f"{where}.step: {space.step} must be above 0 and at most max - min ({high - low:g})"
            )
        if space.distribution == "log_uniform" and low <= 0:
            return f"{where}.min: log_uniform needs min above 0, got {space.min}"
        return None
    for key in ("min", "max", "step", "distribution"):
        if getattr(space, key) is not None:
            return f"{where}.{key}: not used by type {param.type}; list the values instead"
    if not space.list:
        return f"{where}.list: type {param.type} needs a non-empty list of values"
    if len(set(space.list)) != len(space.list):
        return f"{where}.list: values repeat; list each value once"
    bad = [v for v in space.list if _as_number(v) is None]
    if param.type is ParameterType.DISCRETE and bad:
        return f"{where}.list: '{bad[0]}' is not a number; discrete values are numbers, use categorical for others"
    return None


def _setting_problem(name: str, value: str, parameters: list[TuningParameter]) -> str | None:
    if name in _INT_SETTINGS and not value.isdigit():
        return f"'{value}' is not a whole number >= 0"
    if name in _SETTING_CHOICES and value not in _SETTING_CHOICES[name]:
        return f"'{value}' is not one of {', '.join(_SETTING_CHOICES[name])}"
    if name in ("sigma", "eta", "r_l") and not (_as_number(value) or 0) > 0:
        return f"'{value}' is not a number above 0"
    if name == "resource_name" and value not in {p.name for p in parameters}:
        return f"'{value}' names no parameter in tuning.parameters"
    return None


def _tuning_problem(cfg: TuningConfig) -> str | None:
    """The first inconsistency in a tuning section, as 'field.path: problem; fix', or None."""
    from kfops.metrics import METRIC_DIRECTIONS

    objective = cfg.objective
    if (
        objective.metric
        and objective.type
        and objective.type != METRIC_DIRECTIONS[objective.metric]
    ):
        wanted = METRIC_DIRECTIONS[objective.metric]
        return f"tuning.objective.type: {objective.metric} is to {wanted}, not {objective.type}; remove type or set {wanted}"
    known = KATIB_ALGORITHM_SETTINGS[cfg.algorithm.name]
    for name, value in cfg.algorithm.settings.items():
        where = f"tuning.algorithm.settings.{name}"
        if name not in known:
            allowed = ", ".join(known) or "none"
            return f"{where}: {cfg.algorithm.name} has no setting '{name}'; use one of: {allowed}"
        problem = _setting_problem(name, value, cfg.parameters)
        if problem:
            return f"{where}: {problem}"
    if cfg.parallel_trial_count > cfg.max_trial_count:
        return f"tuning.parallel_trial_count: {cfg.parallel_trial_count} is above max_trial_count {cfg.max_trial_count}; lower it"
    if cfg.max_failed_trial_count > cfg.max_trial_count:
        return f"tuning.max_failed_trial_count: {cfg.max_failed_trial_count} is above max_trial_count {cfg.max_trial_count}; lower it"
    if cfg.early_stopping and cfg.early_stopping.start_step > cfg.cv_folds:
        return f"tuning.early_stopping.start_step: {cfg.early_stopping.start_step} is above cv_folds {cfg.cv_folds} (steps are folds), so it never fires; lower it"
    seen: set[str] = set()
    for i, param in enumerate(cfg.parameters):
        if param.name in seen:
            return f"tuning.parameters[{i}].name: '{param.name}' is tuned twice; keep one entry"
        seen.add(param.name)
        problem = _space_problem(f"tuning.parameters[{i}].feasible_space", param)
        if problem:
            return problem
    return None


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
    base_dir: str | None = Field(
        None, description="Directory of the config file; set by the loader."
    )

    @model_validator(mode="after")
    def _target_not_dropped(self) -> KfopsConfig:
        if self.data.target in self.data.drop_columns:
            raise ValueError(f"data.drop_columns contains the target '{self.data.target}'")
        return self

    @property
    def model_name(self) -> str:
        return self.registry.model_name or f"{self.project}-model"

    @property
    def experiment_name(self) -> str:
        return self.tracking.experiment or self.project

    @property
    def state_dir(self) -> Path:
        return Path(self.runtime.root)

    def resolved_tracking_uri(self) -> str:
        if self.tracking.uri:
            return self.tracking.uri
        return f"sqlite:///{(self.state_dir / 'mlflow.db').resolve()}"

    def resolved_artifact_location(self) -> str | None:
        if self.tracking.artifact_location:
            return self.tracking.artifact_location
        if self.tracking.uri:
            return None
        return (self.state_dir / "mlartifacts").resolve().as_uri()


def _format_loc(loc: tuple[Any, ...]) -> str:
    """('tuning', 'parameters', 1, 'type') -> 'tuning.parameters[1].type'."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return text


def _first_error(exc: PydanticValidationError, source: str) -> ConfigurationError:
    err = exc.errors()[0]
    key = _format_loc(err["loc"])
    if err["type"] == "extra_forbidden":
        msg = f"{source}: unknown key '{key}'; remove it or check its spelling"
    elif err["type"] == "missing":
        msg = f"{source}: missing required key '{key}'; add it"
    else:
        value = err.get("input")
        shown = repr(value) if not isinstance(value, dict) else "{...}"
        msg = f"{source}: invalid value {shown} for '{key}': {err['msg']}"
    more = len(exc.errors()) - 1
    if more:
        msg += f" (and {more} more problem{'s' if more > 1 else ''})"
    return ConfigurationError(msg)


def parse_override(text: str) -> tuple[list[str], Any]:
    """Split ``a.b.c=value`` into a key path and a YAML-typed value."""
    if "=" not in text:
        raise ConfigurationError(
            f"--set '{text}': expected KEY=VALUE, e.g. model.params.n_estimators=200"
        )
    key, raw = text.split("=", 1)
    parts = [p for p in key.strip().split(".") if p]
    if not parts:
        raise ConfigurationError(f"--set '{text}': empty key; write it like data.target=label")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return parts, value


def apply_override(raw: dict[str, Any], parts: list[str], value: Any) -> None:
    node = raw
    for i, part in enumerate(parts[:-1]):
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            path = ".".join(parts[: i + 1])
            raise ConfigurationError(f"--set {'.'.join(parts)}: '{path}' is a value, not a section")
        node = child
    node[parts[-1]] = value


def _absolutize(cfg: KfopsConfig, base: Path) -> None:
    def fix(value: str | None) -> str | None:
        if value is None or "://" in value or value.startswith("/"):
            return value
        return str((base / value).resolve())

    cfg.data.path = fix(cfg.data.path) or cfg.data.path
    cfg.validation.schema_path = fix(cfg.validation.schema_path)
    cfg.runtime.root = fix(cfg.runtime.root) or cfg.runtime.root
    if cfg.features is not None:
        cfg.features.repo = fix(cfg.features.repo) or cfg.features.repo
    cfg.base_dir = str(base.resolve())


def load_config(
    path: str | Path | None = None,
    overrides: list[str] | None = None,
    data: str | None = None,
    target: str | None = None,
    raw: dict[str, Any] | None = None,
) -> KfopsConfig:
    """Read ``kfops.yaml``, apply ``--set`` overrides and flags, and validate.

    ``--data`` given without a config file builds a config around that dataset, so that any
    CSV or Parquet file can be trained on without writing YAML first.
    """
    source = "kfops.yaml"
    base = Path.cwd()
    if raw is None:
        if path is not None:
            file = Path(path)
            source = str(file)
            if not file.is_file():
                raise ConfigurationError(
                    f"{file}: config file not found; pass --config PATH or run in a folder with kfops.yaml"
                )
            try:
                loaded = yaml.safe_load(file.read_text()) or {}
            except yaml.YAMLError as exc:
                mark = getattr(exc, "problem_mark", None)
                where = f" at line {mark.line + 1}" if mark else ""
                raise ConfigurationError(f"{file}: not valid YAML{where}; fix the syntax") from exc
            if not isinstance(loaded, dict):
                raise ConfigurationError(f"{file}: expected a mapping of sections at the top level")
            raw = loaded
            base = file.resolve().parent
        elif data is not None:
            stem = Path(data.split("@")[0]).stem.lower()
            slug = "".join(ch if ch.isalnum() else "-" for ch in stem).strip("-")[:40] or "dataset"
            raw = {"project": slug, "data": {}}
            source = "--data"
        else:
            raise ConfigurationError(
                "no configuration: pass --config kfops.yaml, or --data FILE --target COLUMN"
            )
    else:
        raw = dict(raw)

    for item in overrides or []:
        parts, value = parse_override(item)
        apply_override(raw, parts, value)
    if data is not None:
        apply_override(raw, ["data", "path"], data)
    if target is not None:
        apply_override(raw, ["data", "target"], target)

    try:
        cfg = KfopsConfig.model_validate(raw)
    except PydanticValidationError as exc:
        raise _first_error(exc, source) from exc
    if cfg.base_dir is None:
        _absolutize(cfg, base)
    return cfg


def config_to_dict(cfg: KfopsConfig) -> dict[str, Any]:
    """Plain JSON-able form, as passed to pipeline steps (KFP struct parameter)."""
    return cfg.model_dump(mode="json", exclude_none=True)


DATA_SECTIONS = ("project", "data", "validation", "features", "runtime", "base_dir")


def data_config_to_dict(cfg: KfopsConfig) -> dict[str, Any]:
    """The part of the config that ingest and validation read.

    Passed to those steps on its own so that a change of model parameters does not
    invalidate their cached results.
    """
    full = config_to_dict(cfg)
    return {key: full[key] for key in DATA_SECTIONS if key in full}


def _restore_ints(value: Any) -> Any:
    """KFP passes dicts as protobuf Structs, where every number is a double: 100 -> 100.0.

    Integral floats in free-form estimator params go back to int (scikit-learn rejects
    n_estimators=100.0; float params accept ints). Typed fields are coerced by pydantic.
    """
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [_restore_ints(v) for v in value]
    if isinstance(value, dict):
        return {k: _restore_ints(v) for k, v in value.items()}
    return value


def config_from_dict(raw: dict[str, Any]) -> KfopsConfig:
    model = raw.get("model")
    if isinstance(model, dict) and isinstance(model.get("params"), dict):
        raw = {**raw, "model": {**model, "params": _restore_ints(model["params"])}}
    try:
        return KfopsConfig.model_validate(raw)
    except PydanticValidationError as exc:
        raise _first_error(exc, "pipeline config") from exc
