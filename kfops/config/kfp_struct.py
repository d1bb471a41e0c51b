"""The config as a KFP struct parameter and back: the form pipeline steps receive."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError as PydanticValidationError

from kfops.config.root import KfopsConfig
from kfops.errors import config_error


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
        raise config_error(exc, "pipeline config") from exc
