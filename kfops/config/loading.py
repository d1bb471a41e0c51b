"""Reading kfops.yaml: ``--set`` overrides, ``--data``/``--target`` flags, validation with
one-line errors, and paths made absolute so that steps in other processes see the same files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError as PydanticValidationError

from kfops.config.root import KfopsConfig
from kfops.errors import ConfigurationError, config_error


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
        raise config_error(exc, source) from exc
    if cfg.base_dir is None:
        _absolutize(cfg, base)
    return cfg
