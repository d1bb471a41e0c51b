"""Dataset lineage: the dataset versions a project trained on, and the runs and models of each.

A dataset version is its content digest. The train step tags every MLflow run with the
digest and the rest of the dataset's record; the register step links model versions to
runs. :func:`group_dataset_versions` joins the two and is pure, so it is table-tested;
:func:`dataset_history` only reads runs and model versions from MLflow and calls it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kfops.errors import RegistryError, one_line

# Written by kfops.steps.train.dataset_tags; a test keeps the two in step.
DIGEST_TAG = "kfops.dataset.digest"
ROWS_TAG = "kfops.dataset.rows"
SCHEMA_TAG = "kfops.dataset.schema_digest"
SOURCE_TAG = "kfops.dataset.source"
REVISION_TAG = "kfops.dataset.revision"
GIT_COMMIT_TAG = "mlflow.source.git.commit"

RUNS_PAGE = 1000
RUN_IDS_PER_QUERY = 100  # model versions are looked up with run_id IN (...), in chunks


@dataclass(frozen=True)
class RunRecord:
    """What lineage needs of an MLflow run."""

    run_id: str
    start_time: int  # milliseconds since the epoch, as MLflow stores it
    tags: Mapping[str, str] = field(default_factory=dict)
    status: str = "FINISHED"

    def to_dict(self) -> dict[str, str]:
        return {
            "run_id": self.run_id,
            "started": iso_time(self.start_time),
            "status": self.status,
            "source": self.tags.get(SOURCE_TAG, ""),
            "revision": self.tags.get(REVISION_TAG, ""),
            "git_commit": self.tags.get(GIT_COMMIT_TAG, ""),
        }


@dataclass(frozen=True)
class ModelVersionRecord:
    """A registered model version and the run it was registered from."""

    name: str
    version: str
    run_id: str

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "version": self.version, "run_id": self.run_id}


@dataclass(frozen=True)
class DatasetVersion:
    """One dataset content, every run that trained on it, and the models they registered."""

    digest: str
    rows: int | None
    schema_digest: str
    runs: tuple[RunRecord, ...]  # oldest first
    model_versions: tuple[ModelVersionRecord, ...]

    @property
    def first_seen(self) -> int:
        return self.runs[0].start_time

    @property
    def last_seen(self) -> int:
        return self.runs[-1].start_time

    @property
    def sources(self) -> tuple[str, ...]:
        """Where this content was read from, first use first (one file may be copied around)."""
        return _distinct(run.tags.get(SOURCE_TAG, "") for run in self.runs)

    @property
    def revisions(self) -> tuple[str, ...]:
        return _distinct(run.tags.get(REVISION_TAG, "") for run in self.runs)

    def to_dict(self) -> dict[str, Any]:
        return {
            "digest": self.digest,
            "rows": self.rows,
            "schema_digest": self.schema_digest,
            "sources": list(self.sources),
            "revisions": list(self.revisions),
            "first_seen": iso_time(self.first_seen),
            "last_seen": iso_time(self.last_seen),
            "runs": [run.to_dict() for run in self.runs],
            "model_versions": [mv.to_dict() for mv in self.model_versions],
        }


def iso_time(millis: int) -> str:
    """1735689600000 -> '2025-01-01T00:00:00Z'."""
    moment = datetime.fromtimestamp(millis / 1000, tz=UTC).replace(microsecond=0)
    return moment.isoformat().replace("+00:00", "Z")


def _distinct(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(v for v in values if v))


def _int_or_none(text: str) -> int | None:
    """'300' -> 300; also '300.0', as runs logged before rows were written as integers."""
    try:
        number = float(text)
    except ValueError:
        return None
    return int(number) if number.is_integer() else None


def _version_order(mv: ModelVersionRecord) -> tuple[str, int, str]:
    return mv.name, int(mv.version) if mv.version.isdigit() else -1, mv.version


def group_dataset_versions(
    runs: Iterable[RunRecord], versions: Iterable[ModelVersionRecord]
) -> list[DatasetVersion]:
    """Group runs by dataset digest, oldest dataset first, and attach their model versions.

    Runs without a digest (not training runs) are left out. Rows and schema digest come
    from the first run that recorded them: runs logged before a tag existed lack it.
    """
    by_run: dict[str, list[ModelVersionRecord]] = {}
    for mv in versions:
        by_run.setdefault(mv.run_id, []).append(mv)
    groups: dict[str, list[RunRecord]] = {}
    for run in sorted(runs, key=lambda r: (r.start_time, r.run_id)):
        digest = run.tags.get(DIGEST_TAG, "")
        if digest:
            groups.setdefault(digest, []).append(run)
    found = []
    for digest, used in groups.items():
        counts = [n for r in used if (n := _int_or_none(r.tags.get(ROWS_TAG, ""))) is not None]
        schemas = _distinct(r.tags.get(SCHEMA_TAG, "") for r in used)
        models = sorted((mv for r in used for mv in by_run.get(r.run_id, [])), key=_version_order)
        found.append(
            DatasetVersion(
                digest=digest,
                rows=counts[0] if counts else None,
                schema_digest=schemas[0] if schemas else "",
                runs=tuple(used),
                model_versions=tuple(models),
            )
        )
    return found


def _pages(search: Callable[..., Any], **kwargs: Any) -> Iterator[Any]:
    """Every item of a paged MLflow search."""
    token = None
    while True:
        page = search(**kwargs, page_token=token)
        yield from page
        token = page.token
        if not token:
            return


def dataset_history(
    tracking_uri: str, experiment: str, registry_uri: str | None = None
) -> list[DatasetVersion]:
    """The dataset versions of an experiment's runs, read from MLflow; [] before any run.

    A local sqlite store that does not exist yet is not created just to be found empty.
    """
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    local_db = tracking_uri.removeprefix("sqlite:///")
    if local_db != tracking_uri and not Path(local_db).is_file():
        return []
    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=registry_uri or tracking_uri)
    try:
        found = client.get_experiment_by_name(experiment)
        if found is None:
            return []
        runs = [
            RunRecord(run.info.run_id, run.info.start_time, dict(run.data.tags), run.info.status)
            for run in _pages(
                client.search_runs, experiment_ids=[found.experiment_id], max_results=RUNS_PAGE
            )
            if run.data.tags.get(DIGEST_TAG)
        ]
        ids = [run.run_id for run in runs]
        versions = []
        for start in range(0, len(ids), RUN_IDS_PER_QUERY):
            chunk = ", ".join(f"'{run_id}'" for run_id in ids[start : start + RUN_IDS_PER_QUERY])
            for mv in _pages(client.search_model_versions, filter_string=f"run_id IN ({chunk})"):
                versions.append(ModelVersionRecord(mv.name, str(mv.version), mv.run_id))
    except MlflowException as exc:
        raise RegistryError(
            f"MLflow at {tracking_uri}: cannot read the runs of experiment '{experiment}': "
            f"{one_line(exc)}; check tracking.uri"
        ) from exc
    return group_dataset_versions(runs, versions)
