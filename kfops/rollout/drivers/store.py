"""Local rollout state: one JSON file per rollout under ``<runtime.root>/rollouts/``.

The file is the laptop's equivalent of a ModelRollout object: spec, status and a history of
traffic changes for the timeline picture. Writes are atomic (temporary file, then rename) and
every read-modify-write holds an advisory lock, so the controller and ``kfops rollout``
commands never lose each other's changes and a killed controller leaves a whole file.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from kfops.config.rollout import RolloutSpec
from kfops.errors import RolloutError
from kfops.rollout.engine.status import HistoryPoint, RolloutStatus

_NAME = re.compile(r"^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$")


class RolloutRecord(BaseModel):
    name: str
    spec: RolloutSpec
    status: RolloutStatus
    history: list[HistoryPoint] = Field(default_factory=list)
    processes: dict[str, Any] = Field(
        default_factory=dict, description="Local servers and router started for it: urls, pids."
    )


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise RolloutError(
            f"rollout name {name!r} is not a DNS-1123 name; use lower-case letters, digits and '-'"
        )
    return name


class LocalRolloutStore:
    """The rollouts of one project on this machine."""

    def __init__(self, root: str | Path) -> None:
        self.folder = Path(root) / "rollouts"

    def path(self, name: str) -> Path:
        return self.folder / f"{check_name(name)}.json"

    def names(self) -> list[str]:
        if not self.folder.is_dir():
            return []
        return sorted(path.stem for path in self.folder.glob("*.json"))

    def exists(self, name: str) -> bool:
        return self.path(name).is_file()

    def load(self, name: str) -> RolloutRecord:
        path = self.path(name)
        if not path.is_file():
            known = ", ".join(self.names()) or "none"
            raise RolloutError(
                f"no rollout {name!r} in {self.folder} (known: {known}); start one with "
                "`kfops rollout start`"
            )
        try:
            return RolloutRecord.model_validate_json(path.read_bytes())
        except ValueError as exc:
            raise RolloutError(f"{path}: not a rollout state file ({exc}); remove it") from exc

    def save(self, record: RolloutRecord) -> None:
        path = self.path(record.name)
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = record.model_dump(mode="json", by_alias=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w") as handle:
                json.dump(payload, handle, indent=1)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    @contextmanager
    def locked(self, name: str) -> Iterator[None]:
        """Hold the rollout's lock for one read-modify-write."""
        lock = self.folder / f".{check_name(name)}.lock"
        lock.parent.mkdir(parents=True, exist_ok=True)
        with lock.open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
