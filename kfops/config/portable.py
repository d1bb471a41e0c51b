"""The config in the form a pod can use: no path of the submitting machine travels.

The loader makes paths absolute for the local runner, whose steps share this machine. A
pod has none of those files, so the cluster form carries what it needs instead:

- ``validation.schema_text``: the curated schema's text; ``schema_path`` keeps only its
  path relative to the config file, for messages;
- ``features.files``: the Feast repo's definition files (``*.py``, ``*.yaml``, ``*.yml``,
  ``.feastignore``) by relative path, no data; ``features.repo`` keeps only the folder's
  name. The steps write both back into a temporary folder in the pod;
- ``runtime.root``: :data:`POD_STATE_DIR`; ``base_dir`` is left out;
- ``data.path`` and the MLflow URIs must already be something pods can reach.

Both embedded parts travel as pipeline parameters. KFP v2 hands a task its inputs as one
command-line argument (the executor input), and Linux caps one argument at 128 KiB, so each
part is capped at :data:`EMBED_LIMIT` bytes of JSON.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from kfops.config.kfp_struct import config_to_dict
from kfops.config.root import KfopsConfig
from kfops.errors import ConfigurationError

POD_STATE_DIR = "/tmp/kfops"
"""runtime.root in a pod: writable in every image, gone with the pod."""

EMBED_LIMIT = 48 * 1024
"""Bytes of JSON the schema, and separately the feature repo, may add to the parameters."""

REPO_SUFFIXES = (".py", ".yaml", ".yml")
REPO_NAMES = (".feastignore",)
SKIPPED_FOLDERS = {"__pycache__", ".venv", "venv", ".git", "node_modules"}

LOCAL_SCHEMES = {"", "file", "sqlite"}
"""URI schemes that name a file of the machine that reads them."""


def is_local(uri: str) -> bool:
    """A plain path or a ``file://``/``sqlite://`` URI: only this machine can open it."""
    if "://" not in uri:
        return True
    return urlparse(uri).scheme.lower() in LOCAL_SCHEMES


def _check_data_path(path: str) -> None:
    if path.lower().startswith("dvc://"):
        raise ConfigurationError(
            f"data.path: '{path}' reads the git repository on this machine, which pods do not "
            "have; give the file's URL in the DVC remote instead (dvc get --show-url . PATH "
            "--rev REV), e.g. s3://bucket/files/md5/..."
        )
    if is_local(path):
        raise ConfigurationError(
            f"data.path: '{path}' is a file on this machine; a cluster run needs a URI its pods "
            "can read (s3://, gs://, https://): upload the dataset and set data.path"
        )


def _check_tracking(cfg: KfopsConfig) -> str:
    server = cfg.tracking_server_uri()
    if not server:
        raise ConfigurationError(
            "tracking.uri: a cluster run needs an MLflow server, e.g. "
            "http://mlflow.kubeflow:5000; set tracking.uri or MLFLOW_TRACKING_URI"
        )
    named = {
        "tracking.uri": server,
        "tracking.registry_uri": cfg.resolved_registry_uri(),
        "tracking.artifact_location": cfg.tracking.artifact_location,
    }
    for key, uri in named.items():
        if uri and is_local(uri):
            raise ConfigurationError(
                f"{key}: '{uri}' is a store on this machine; pods need a server or bucket, "
                "e.g. http://mlflow.kubeflow:5000 or s3://bucket/mlflow"
            )
    return server


def _relative_label(path: Path, base: Path | None) -> str:
    """The path as the user knows it, relative to the config file when it lies below it."""
    if not path.is_absolute():
        return path.as_posix()
    if base is not None and path.is_relative_to(base):
        return path.relative_to(base).as_posix()
    return path.name


def _encoded_size(value: Any) -> int:
    return len(json.dumps(value).encode())


def _too_big(key: str, what: str, size: int, fix: str) -> ConfigurationError:
    return ConfigurationError(
        f"{key}: {what} is {size // 1024} KiB, over the {EMBED_LIMIT // 1024} KiB a cluster run "
        f"carries in its parameters; {fix}"
    )


def embedded_schema(cfg: KfopsConfig) -> tuple[str | None, str] | None:
    """(relative label, text) of the curated schema; None when there is none to carry."""
    validation = cfg.validation
    base = Path(cfg.base_dir) if cfg.base_dir else None
    path = Path(validation.schema_path) if validation.schema_path else None
    if path is not None and not path.is_absolute() and base is not None:
        path = base / path
    if validation.schema_text is not None:
        text = validation.schema_text
    elif path is None:
        return None
    elif path.is_file():
        text = path.read_text(encoding="utf-8")
    else:
        raise ConfigurationError(
            f"validation.schema_path: {path} does not exist, and a pod cannot keep the schema "
            "it would infer; run 'kfops run' once to infer and save it, review it, then "
            "submit (or unset validation.schema_path to infer one in every run)"
        )
    size = _encoded_size(text)
    if size > EMBED_LIMIT:
        raise _too_big(
            "validation.schema_path",
            str(path or "validation.schema_text"),
            size,
            "drop descriptions and columns the model does not read from the schema",
        )
    return (_relative_label(path, base) if path else None), text


def repo_files(repo: Path) -> dict[str, str]:
    """The definition files of a Feast repo by POSIX path relative to it; data stays out."""
    found: dict[str, str] = {}
    for path in sorted(repo.rglob("*")):
        relative = path.relative_to(repo)
        if not path.is_file() or SKIPPED_FOLDERS & set(relative.parts[:-1]):
            continue
        if path.suffix in REPO_SUFFIXES or path.name in REPO_NAMES:
            found[relative.as_posix()] = path.read_text(encoding="utf-8")
    return found


def embedded_repo(cfg: KfopsConfig) -> tuple[str, dict[str, str]] | None:
    """(folder name, files) of the feature repo; None without a features section."""
    features = cfg.features
    if features is None:
        return None
    repo = Path(features.repo)
    if features.files is not None:
        return repo.name, features.files
    if not repo.is_absolute() and cfg.base_dir:
        repo = Path(cfg.base_dir) / repo
    if not (repo / features.store_yaml).is_file():
        raise ConfigurationError(
            f"features.repo: {repo / features.store_yaml} not found; fix features.repo or "
            "features.store_yaml"
        )
    files = repo_files(repo)
    size = _encoded_size(files)
    if size > EMBED_LIMIT:
        raise _too_big(
            "features.repo",
            f"the definition files of {repo}",
            size,
            "move scripts and large YAML out of the repo",
        )
    return repo.resolve().name, files


def cluster_config(cfg: KfopsConfig) -> dict[str, Any]:
    """The config as a pod receives it: nothing in it names a file of this machine.

    Raises ConfigurationError, before anything is sent, for a local dataset, a local
    MLflow store, a missing curated schema or an embedded part over :data:`EMBED_LIMIT`.
    """
    _check_data_path(cfg.data.path)
    server = _check_tracking(cfg)
    schema = embedded_schema(cfg)
    repo = embedded_repo(cfg)
    raw = config_to_dict(cfg)
    # The pods do not see this shell's MLFLOW_* variables: they get the resolved URIs.
    raw["tracking"]["uri"] = server
    if cfg.resolved_registry_uri() != server:
        raw["tracking"]["registry_uri"] = cfg.resolved_registry_uri()
    raw["runtime"]["root"] = POD_STATE_DIR
    raw.pop("base_dir", None)
    raw["validation"].pop("schema_path", None)
    if schema is not None:
        label, raw["validation"]["schema_text"] = schema
        if label:
            raw["validation"]["schema_path"] = label
    if repo is not None:
        raw["features"]["repo"], raw["features"]["files"] = repo
    return raw
