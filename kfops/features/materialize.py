"""Incremental materialization: copy the latest feature values up to a cutoff online.

Each view continues from where its last materialization ended. A view never materialized
starts at ``cutoff - ttl``, the oldest value the online store may still serve at the
cutoff; Feast's own ``materialize_incremental`` starts at ``now - ttl`` instead, which
misses every value of a dataset older than its TTL (a 2025 dataset replayed in 2026).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta

import pandas as pd
from feast import FeatureStore, FeatureView
from feast.infra.offline_stores.file_source import FileSource

from kfops.features.feast_metrics import forget_feast_multiprocess_dir
from kfops.features.store import feast_errors, source_data

forget_feast_multiprocess_dir()


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class ViewMaterialization:
    """One view's interval: ``rows`` entity rows written online in ``seconds``."""

    view: str
    start: str
    end: str
    rows: int | None  # None when the source is not a file this module can count
    seconds: float

    @property
    def rows_per_second(self) -> float | None:
        return None if self.rows is None or self.seconds <= 0 else self.rows / self.seconds


@dataclass(frozen=True)
class MaterializeReport:
    views: tuple[ViewMaterialization, ...]
    cutoff: str

    @property
    def rows(self) -> int:
        return sum(v.rows or 0 for v in self.views)

    @property
    def seconds(self) -> float:
        return sum(v.seconds for v in self.views)

    @property
    def rows_per_second(self) -> float | None:
        return self.rows / self.seconds if self.seconds > 0 else None

    def to_dict(self) -> dict:
        views = [{**asdict(v), "rows_per_second": v.rows_per_second} for v in self.views]
        return {
            "cutoff": self.cutoff,
            "rows": self.rows,
            "seconds": self.seconds,
            "rows_per_second": self.rows_per_second,
            "views": views,
        }


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def start_of(view: FeatureView, cutoff: datetime) -> datetime:
    """Where the next interval starts: after the last one, or ``cutoff - ttl`` the first time.

    Worked example: ttl 35 days, cutoff 2025-12-31, never materialized -> 2025-11-26.
    A ttl of zero means values never expire, so the first interval starts at the epoch.
    """
    if view.most_recent_end_time is not None:
        return _utc(view.most_recent_end_time)
    if view.ttl is None or view.ttl == timedelta(0):
        return EPOCH
    return max(EPOCH, cutoff - view.ttl)


def _rows_written(store: FeatureStore, view: FeatureView, start: datetime, end: datetime):
    """Entities with a value in [start, end]: Feast writes the latest value of each one."""
    source = view.batch_source
    if not isinstance(source, FileSource):
        return None
    path = FileSource.get_uri_for_file_path(store.config.repo_path, source.path)
    keys = [column.name for column in view.entity_columns]
    endpoint = source.file_options.s3_endpoint_override
    options = (
        {"client_kwargs": {"endpoint_url": endpoint}}
        if endpoint and path.startswith("s3://")
        else None
    )
    stamps = pd.read_parquet(path, columns=[*keys, source.timestamp_field], storage_options=options)
    times = pd.to_datetime(stamps[source.timestamp_field], utc=True)
    inside = stamps[(times >= start) & (times <= end)]
    return int(len(inside.drop_duplicates(keys)))


def materialize_to(
    store: FeatureStore, cutoff: datetime, views: list[str] | None = None
) -> MaterializeReport:
    """Materialize ``views`` (default: all online views) from where each stopped to ``cutoff``."""
    cutoff = _utc(cutoff)
    done = []
    for view in store.list_feature_views():
        if (views is not None and view.name not in views) or not view.online:
            continue
        start = start_of(view, cutoff)
        if start >= cutoff:
            continue  # already materialized to this cutoff or later
        started = time.perf_counter()
        with feast_errors(
            f"feature view '{view.name}': materialization to {cutoff.isoformat()} failed",
            f"check {source_data(view)} and the online store",
        ):
            store.materialize(start, cutoff, feature_views=[view.name])
        seconds = time.perf_counter() - started
        rows = _rows_written(store, view, start, cutoff)
        done.append(
            ViewMaterialization(view.name, start.isoformat(), cutoff.isoformat(), rows, seconds)
        )
    return MaterializeReport(tuple(done), cutoff.isoformat())
