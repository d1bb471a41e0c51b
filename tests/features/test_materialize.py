"""Incremental materialization up to a cutoff (kfops.features.materialize)."""

from __future__ import annotations

import sqlite3
from datetime import timedelta

import pytest
from feast import Entity, FeatureView, Field, FileSource, ValueType
from feast.types import Int64

from kfops.features.materialize import EPOCH, materialize_to, start_of

from .conftest import DAY, T0


def view(ttl: timedelta | None) -> FeatureView:
    customer = Entity(name="customer", join_keys=["customer_id"], value_type=ValueType.STRING)
    source = FileSource(path="x.parquet", timestamp_field="event_timestamp")
    return FeatureView(
        name="v", entities=[customer], ttl=ttl, source=source, schema=[Field(name="n", dtype=Int64)]
    )


CUTOFF = (T0 + 30 * DAY).to_pydatetime()


@pytest.mark.parametrize(
    ("ttl", "last_end", "start"),
    [
        (timedelta(days=10), None, CUTOFF - timedelta(days=10)),  # first time: cutoff - ttl
        (timedelta(0), None, EPOCH),  # values never expire: from the beginning
        (None, None, EPOCH),
        (timedelta(days=100_000), None, EPOCH),  # never before 1970
        (timedelta(days=10), CUTOFF - timedelta(days=1), CUTOFF - timedelta(days=1)),
    ],
)
def test_start_of_an_interval(ttl, last_end, start):
    feature_view = view(ttl)
    if last_end is not None:
        feature_view.materialization_intervals.append((last_end - timedelta(days=1), last_end))
    assert start_of(feature_view, CUTOFF) == start


def online_rows(state, table: str) -> int:
    with sqlite3.connect(state / "feast" / "online_store.db") as db:
        return db.execute(f"select count(distinct entity_key) from kfops_test_{table}").fetchone()[
            0
        ]


def test_materialization_counts_rows_and_continues_where_it_stopped(store, state):
    # At T0+3d: activity (ttl 10 d) sees a and b from T0-7d; profile (100 d) the same two.
    first = materialize_to(store, (T0 + 3 * DAY).to_pydatetime())
    rows = {v.view: v.rows for v in first.views}
    assert rows == {"activity": 2, "profile": 2}
    assert first.rows == 4 and first.rows_per_second > 0
    assert online_rows(state, "activity") == 2
    assert materialize_to(store, (T0 + 3 * DAY).to_pydatetime()).views == ()  # nothing new
    later = materialize_to(store, (T0 + 6 * DAY).to_pydatetime(), views=["activity"])
    (only,) = later.views
    assert (only.view, only.start, only.rows) == ("activity", (T0 + 3 * DAY).isoformat(), 1)
    assert later.to_dict()["views"][0]["rows"] == 1
