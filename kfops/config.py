"""The ``kfops.yaml`` model: one file that describes a model's life.

Unknown keys are errors (as in Feast's repo config) so a typo never silently falls back
to a default. Paths in the file are relative to the file itself; the loader makes them
absolute so that pipeline steps, which run in other processes, see the same files.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic import ValidationError as PydanticValidationError

from kfops.errors import ConfigurationError

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


class KfopsConfig(Strict):
    project: str = Field(..., pattern=r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
    data: DataConfig
    validation: ValidationConfig = Field(default_factory=ValidationConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    registry: RegistryConfig = Field(default_factory=RegistryConfig)
    tracking: TrackingConfig = Field(default_factory=TrackingConfig)
    runtime: RuntimeConfig = Field(default_factory=RuntimeConfig)
    cluster: ClusterConfig = Field(default_factory=ClusterConfig)
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
    return ".".join(str(part) for part in loc)


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


DATA_SECTIONS = ("project", "data", "validation", "runtime", "base_dir")


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
