"""A fully cached run without kfp: the steps' cache hits, known before anything is built.

After a run in which every step succeeded or came from kfp.local's cache, and every step
of the graph may be cached, the same run again is a cache hit at every step: each task's
inputs are the config, the data fingerprint and the outputs of tasks that are hits too,
and its image name carries the digest of its code. Building the pipeline and importing
kfp to find that out costs about 1 s here, more than the rest of such a run. So the run
leaves a memo: a key over everything those cache keys derive from, the steps it saw and
the pipeline's outputs. A run with the same key reports every step cached from it.

The key covers the config and the data settings as the pipeline receives them, the data
fingerprint, the pipeline's name, the contents of every kfops, components and pipelines
module the pipeline and its components import, both lock files, and the cache entries
kfp.local had after the run (a removed or rewritten entry misses). Not memoized: user
steps and model.preprocessing (their code digests are taken while the graph is built),
other pipeline arguments (retraining), ``--runner docker`` and runs without the cache.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
from pathlib import Path
from typing import Any

from kfops.config import KfopsConfig, config_to_dict, data_config_to_dict
from kfops.runners.code_digest import CodeDigests

MEMO_FILE = "run-memo.json"
MEMO_ENV = "KFOPS_RUN_MEMO"  # "0": every run builds the pipeline and asks kfp.local
VERSION = 1


def eligible(cfg: KfopsConfig, arguments: dict[str, Any] | None, runner: str) -> bool:
    """Whether the run may be answered from (and leave) a memo."""
    return (
        os.environ.get(MEMO_ENV, "1") != "0"
        and runner == "subprocess"
        and cfg.runtime.caching
        and not arguments
        and not cfg.steps
        and not cfg.model.preprocessing
    )


def _code_files(digests: CodeDigests, pipeline: str) -> list[Path]:
    dirs = dict(digests.dirs)
    spec = importlib.util.find_spec("pipelines")
    if spec is not None and spec.origin:
        dirs["pipelines"] = Path(spec.origin).resolve().parent
    code = CodeDigests(None, dirs)
    code.memo = digests.memo  # one import memo for both
    modules = code.closure([f"pipelines.{pipeline}", "kfops.runners.local", "kfops.cli.summary"])
    root = dirs["kfops"].parent
    locks = [root / "uv.lock", root / "runtimes" / "tfdv" / "uv.lock"]
    return sorted(modules.values()) + [lock for lock in locks if lock.is_file()]


def _cache_entries(cache_root: Path) -> dict[str, list[int]]:
    if not cache_root.is_dir():
        return {}
    entries = {}
    for entry in sorted(cache_root.iterdir()):
        status = entry.stat()
        entries[entry.name] = [status.st_size, status.st_mtime_ns]
    return entries


def run_key(cfg: KfopsConfig, fingerprint: str, pipeline: str, digests: CodeDigests) -> str:
    """The digest of everything the steps' cache keys are derived from."""
    key = hashlib.sha256()
    head = {
        "version": VERSION,
        "pipeline": pipeline,
        "config": config_to_dict(cfg),
        "data_config": data_config_to_dict(cfg),
        "fingerprint": fingerprint,
        "packages": {name: str(path) for name, path in sorted(digests.dirs.items())},
    }
    key.update(json.dumps(head, sort_keys=True, default=str).encode())
    for path in _code_files(digests, pipeline):
        key.update(str(path).encode() + b"\0" + path.read_bytes() + b"\0")
    return key.hexdigest()


def recall(state: Path, key: str) -> dict[str, Any] | None:
    """The memo of a run with this key whose cache entries are all still there, or None."""
    try:
        memo = json.loads((state / MEMO_FILE).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(memo, dict) or memo.get("key") != key:
        return None
    entries = _cache_entries(state / "cache")
    kept = memo.get("cache", {})
    if not kept or any(entries.get(name) != value for name, value in kept.items()):
        return None
    return memo


def remember(
    state: Path, key: str, steps: list[str], outputs: dict[str, Any], pipeline_spec: Any
) -> None:
    """Leave the memo of a run that succeeded, when a rerun is a hit at every step."""
    memo_path = state / MEMO_FILE
    memo_path.unlink(missing_ok=True)
    if not steps or not all_tasks_cached(pipeline_spec):
        return
    try:
        text = json.dumps(
            {
                "key": key,
                "steps": steps,
                "outputs": outputs,
                "cache": _cache_entries(state / "cache"),
            }
        )
    except (TypeError, ValueError):
        return  # an output that is not plain JSON (an artifact): ask kfp.local next time
    partial = memo_path.with_name(f".{MEMO_FILE}.{os.getpid()}")
    partial.write_text(text)
    partial.replace(memo_path)


def all_tasks_cached(pipeline_spec: Any) -> bool:
    """Every executor task of the graph (inside conditions too) may come from the cache."""
    if pipeline_spec is None:
        return False
    dags = [pipeline_spec.root.dag] + [
        component.dag
        for component in pipeline_spec.components.values()
        if component.WhichOneof("implementation") == "dag"
    ]
    for dag in dags:
        for task in dag.tasks.values():
            component = pipeline_spec.components[task.component_ref.name]
            if component.WhichOneof("implementation") != "dag" and not (
                task.caching_options.enable_cache
            ):
                return False
    return True
