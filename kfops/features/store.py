"""Open a Feast store for a ``features`` section and register its repository's definitions.

The repository (``feature_store.yaml`` plus Python definition files) is committed; what a
run writes, the registry and the sqlite online store, goes under the run's state folder.
The profile names that folder as ``${KFOPS_FEAST_HOME}``, the same ``${VAR}`` form Feast's
own loader expands, so ``feast`` commands work in the repo once the variable is exported.
Definitions are registered through ``FeatureStore.apply``, never the ``feast`` CLI (which
costs 20-40 s a call).
"""

from __future__ import annotations

import fnmatch
import hashlib
import importlib.util
import os
import re
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml
from feast import Entity, FeatureService, FeatureStore, FeatureView, FileSource, RepoConfig
from feast.data_source import DataSource
from feast.on_demand_feature_view import OnDemandFeatureView

from kfops.config import FeaturesConfig, is_local
from kfops.errors import FeaturesError, one_line
from kfops.features.feast_metrics import forget_feast_multiprocess_dir

forget_feast_multiprocess_dir()

FEAST_HOME_ENV = "KFOPS_FEAST_HOME"
STATE_SUBDIR = "feast"
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
REDIS_CONNECT_SECONDS = 2.0
_REDIS_UNREACHABLE = {"ConnectionError", "TimeoutError", "BusyLoadingError"}
_FEAST_TYPES = (Entity, DataSource, FeatureView, OnDemandFeatureView, FeatureService)
# Errors of the clients that reach a registry or sources in object storage (s3://, gs://).
_OBJECT_STORE_MODULES = ("botocore", "boto3", "aiobotocore", "s3fs", "gcsfs", "google")
_OBJECT_STORE_FEAST_ERRORS = ("S3RegistryBucket", "GCSRegistryBucket")
OBJECT_STORE_FIX = (
    "check the bucket and the credentials and endpoint in the environment (AWS_ACCESS_KEY_ID, "
    "AWS_SECRET_ACCESS_KEY, AWS_ENDPOINT_URL for MinIO or another S3 server; Google ADC for gs://)"
)


def _first_line(exc: BaseException) -> str:
    """The error's class and first line (``KeyError: 'age'``), or its class alone."""
    detail, name = one_line(exc), type(exc).__name__
    return name if detail == name else f"{name}: {detail}"


@contextmanager
def feast_errors(action: str, fix: str) -> Iterator[None]:
    """Turn a failure inside Feast into one FeaturesError line: what failed, why, the fix.

    An unreachable Redis and a failing object store (the registry or sources in a bucket)
    get their own messages, since the fix is the connection or the credentials, not the data.
    """
    try:
        yield
    except FeaturesError:
        raise
    except Exception as exc:
        kind = type(exc)
        if kind.__module__.startswith(_OBJECT_STORE_MODULES) or kind.__name__.startswith(
            _OBJECT_STORE_FEAST_ERRORS
        ):
            raise FeaturesError(
                f"{action}: object store failed ({_first_line(exc)}); {OBJECT_STORE_FIX}"
            ) from exc
        if kind.__module__.startswith("redis") and kind.__name__ in _REDIS_UNREACHABLE:
            raise FeaturesError(
                f"{action}: Redis online store unreachable ({_first_line(exc)}); start Redis "
                "or fix KFOPS_FEAST_REDIS (host:port) in the store profile's environment"
            ) from exc
        raise FeaturesError(f"{action}: {_first_line(exc)}; {fix}") from exc


def source_data(view: Any) -> str:
    """How a message names a view's source data: with its path when it is a file source."""
    path = getattr(getattr(view, "batch_source", None), "path", None)
    return f"the view's source data ({path})" if path else "the view's source data"


def _substitute(text: str, source: Path, variables: dict[str, str]) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in variables:
            raise FeaturesError(
                f"{source}: ${{{name}}} is not set; export {name} before the run "
                "(for Redis, e.g. KFOPS_FEAST_REDIS=localhost:6379)"
            )
        return variables[name]

    return _VARIABLE.sub(value, text)


def repo_config(features: FeaturesConfig, state_dir: str | Path) -> RepoConfig:
    """The store profile, with ``${KFOPS_FEAST_HOME}`` = ``<state_dir>/feast``."""
    repo = Path(features.repo)
    profile = repo / features.store_yaml
    if not profile.is_file():
        raise FeaturesError(
            f"{profile}: feature store profile not found; fix features.repo or features.store_yaml"
        )
    home = Path(state_dir).resolve() / STATE_SUBDIR
    variables = {**os.environ, FEAST_HOME_ENV: str(home)}
    raw = yaml.safe_load(_substitute(profile.read_text(), profile, variables))
    if not isinstance(raw, dict):
        raise FeaturesError(f"{profile}: expected a mapping of settings; fix the file")
    with feast_errors(f"{profile}: invalid store profile", "fix the file"):
        config = RepoConfig(**raw)
    config.repo_path = repo.resolve()
    home.mkdir(parents=True, exist_ok=True)
    return config


def check_online_store(config: RepoConfig, profile: str) -> None:
    """Fail fast when a Redis online store does not answer.

    Redis clients retry a refused connection with backoff, several seconds per call; one
    plain TCP connect tells the same in milliseconds. Any reachable node will do (cluster).
    """
    online = config.online_store
    if getattr(online, "type", None) != "redis":
        return
    nodes = [n for n in online.connection_string.split(",") if n and "=" not in n]
    failure: OSError | None = None
    for node in nodes:
        host, _, port = node.partition(":")
        try:
            socket.create_connection((host, int(port or 6379)), REDIS_CONNECT_SECONDS).close()
            return
        except (OSError, ValueError) as exc:
            failure = exc if isinstance(exc, OSError) else OSError(str(exc))
    raise FeaturesError(
        f"{profile}: Redis online store at {','.join(nodes) or '(none)'} unreachable "
        f"({failure}); start Redis or fix KFOPS_FEAST_REDIS (host:port)"
    )


def open_store(features: FeaturesConfig, state_dir: str | Path) -> FeatureStore:
    """A FeatureStore over the committed repo, writing only under ``<state_dir>/feast``."""
    config = repo_config(features, state_dir)
    check_online_store(config, str(Path(features.repo) / features.store_yaml))
    return FeatureStore(repo_path=str(config.repo_path), config=config)


def _ignored(repo: Path) -> list[str]:
    ignore = repo / ".feastignore"
    if not ignore.is_file():
        return []
    lines = (line.split("#", 1)[0].strip() for line in ignore.read_text().splitlines())
    return [line for line in lines if line]


def definition_files(repo: Path) -> list[Path]:
    """The repo's Python files, as Feast lists them: all ``*.py`` but ``.feastignore``'d ones."""
    patterns = _ignored(repo)
    files = []
    for path in sorted(repo.rglob("*.py")):
        relative = path.relative_to(repo).as_posix()
        skip = any(
            fnmatch.fnmatch(relative, p) or relative.startswith(p.rstrip("/") + "/")
            for p in patterns
        )
        if not skip and not {"__pycache__", ".venv", ".git"} & set(Path(relative).parts):
            files.append(path)
    return files


def _import(path: Path) -> Any:
    # A name unique to the file: two repos with a definitions.py never share a module.
    digest = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:10]
    name = f"kfops_feature_repo_{digest}_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    sys.path.insert(0, str(path.parent))  # sibling imports (from entities import customer)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        sys.modules.pop(name, None)
        raise FeaturesError(
            f"{path}: feature definitions fail to import ({_first_line(exc)}); fix the file"
        ) from exc
    finally:
        sys.path.remove(str(path.parent))
    return module


def load_definitions(repo: str | Path) -> list[Any]:
    """Every Feast object defined at module level in the repo, each once, in file order."""
    found: list[Any] = []
    for path in definition_files(Path(repo)):
        module = _import(path)
        for value in vars(module).values():
            if isinstance(value, _FEAST_TYPES) and not any(value is seen for seen in found):
                found.append(value)
    return found


def check_service(objects: list[Any], service: str, repo: str | Path) -> FeatureService:
    """The named service, after checking that the repo defines every view it reads."""
    services = {o.name: o for o in objects if isinstance(o, FeatureService)}
    if service not in services:
        known = ", ".join(sorted(services)) or "none"
        raise FeaturesError(
            f"feature service '{service}' is not defined in {repo} (defined: {known}); "
            "fix features.service or define it in the repo"
        )
    views = {o.name for o in objects if isinstance(o, FeatureView | OnDemandFeatureView)}
    for projection in services[service].feature_view_projections:
        if projection.name not in views:
            raise FeaturesError(
                f"feature view '{projection.name}' of feature service '{service}' is not defined "
                f"in {repo}; define it at module level in a definition file"
            )
    return services[service]


def local_file_sources(objects: list[Any]) -> list[tuple[str, str]]:
    """(name, path) of every file source that reads a file of the machine it runs on."""
    return [(o.name, o.path) for o in objects if isinstance(o, FileSource) and is_local(o.path)]


def apply_definitions(
    store: FeatureStore, features: FeaturesConfig, remote_sources: bool = False
) -> FeatureService:
    """Register the repo's objects; the service is checked first, so a bad repo writes nothing.

    ``remote_sources``: refuse file sources on local paths, as in a pod, where the repo's
    definitions arrived without its data.
    """
    objects = load_definitions(features.repo)
    service = check_service(objects, features.service, features.repo)
    local = local_file_sources(objects) if remote_sources else []
    if local:
        name, path = local[0]
        raise FeaturesError(
            f"feature source '{name}' reads '{path}', a local file that did not travel with "
            "the repo's definitions; set the source's path to a URI the pods can read "
            "(e.g. s3://bucket/features.parquet)"
        )
    with feast_errors(f"{features.repo}: feast apply failed", "fix the feature definitions"):
        store.apply(objects)
    return service
