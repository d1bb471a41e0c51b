"""Point-in-time training sets (kfops.features.training_set) on the small repo of conftest."""

from __future__ import annotations

import pandas as pd
import pytest

from kfops.errors import FeaturesError
from kfops.features.training_set import build_training_set, feature_names, resolve_service

from .conftest import DAY, FEATURES, SERVICE, T0


def labels(*rows: tuple[str, pd.Timestamp]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": [key for key, _ in rows],
            "event_timestamp": [when for _, when in rows],
            "churned": list(range(len(rows))),
        }
    )


def one_row(store, key: str, when: pd.Timestamp) -> dict:
    return build_training_set(labels((key, when)), store, SERVICE).iloc[0].to_dict()


@pytest.mark.parametrize(
    ("when", "calls", "plan"),
    [
        (T0 + 3 * DAY, 2, "plus"),  # the value of T0+5d is written after the label: never seen
        (T0 + 2 * DAY, 2, "plus"),  # a value written at the label's time is known at that time
        (T0 + 2 * DAY - pd.Timedelta(seconds=1), 1, "basic"),
        (T0 + 5 * DAY, 99, "leak"),
    ],
)
def test_a_value_written_after_the_label_never_reaches_its_row(store, when, calls, plan):
    row = one_row(store, "a", when)
    assert (row["calls"], row["plan"]) == (calls, plan)


def test_a_label_before_any_value_gets_nulls(store):
    row = one_row(store, "a", T0 - pd.Timedelta(seconds=1))
    assert all(pd.isna(row[name]) for name in FEATURES)


@pytest.mark.parametrize(
    ("age_days", "activity_known"),
    [(0, True), (10, True), (10 + 1 / 86400, False), (15, False)],  # activity ttl: 10 days
)
def test_a_value_older_than_the_ttl_is_null(store, age_days, activity_known):
    row = one_row(store, "b", T0 + pd.Timedelta(days=age_days))
    assert (row["calls"] == 7) is activity_known
    assert pd.isna(row["calls"]) is not activity_known
    assert row["age"] == 50  # the profile view's 100-day ttl still covers it: the row is kept


def test_rows_order_duplicates_and_columns_are_the_entity_frames(store):
    entity = labels(
        ("b", T0 + 15 * DAY),
        ("a", T0 + 3 * DAY),
        ("zz", T0),  # an unknown customer
        ("a", T0 + 3 * DAY),  # the same key and time twice
        ("b", T0 + 500 * DAY),  # expired in every view
    )
    out = build_training_set(entity, store, SERVICE)
    assert list(out.columns) == ["customer_id", "event_timestamp", "churned", *FEATURES]
    pd.testing.assert_frame_equal(out[list(entity.columns)], entity, check_dtype=False)
    assert out["calls"].tolist()[1::2] == [2, 2]
    assert out["age"].tolist()[:2] == [50, 30]
    assert out.iloc[[0, 2, 4]][["calls", "plan"]].isna().all().all()
    assert out.iloc[[2, 4]]["age"].isna().all()


def test_text_timestamps_and_another_timestamp_name_are_parsed(store):
    entity = pd.DataFrame({"customer_id": ["a"], "when": ["2025-03-04T00:00:00Z"]})
    out = build_training_set(entity, store, SERVICE, timestamp_column="when")
    assert out["when"].iloc[0] == T0 + 3 * DAY
    assert out["calls"].iloc[0] == 2


def test_feature_names_follow_the_service(store):
    assert feature_names(resolve_service(store, SERVICE)) == FEATURES


@pytest.mark.parametrize(
    ("entity", "timestamp_column", "match"),
    [
        (
            pd.DataFrame({"id": ["a"], "event_timestamp": [T0]}),
            "event_timestamp",
            r"no column 'customer_id' \(join key of feature view 'activity'\)",
        ),
        (
            pd.DataFrame({"customer_id": ["a"], "event_timestamp": [T0]}),
            "label_time",
            r"no column 'label_time' \(the event timestamp\)",
        ),
        (
            pd.DataFrame({"customer_id": ["a", "b"], "event_timestamp": ["2025-03-01", "soon"]}),
            "event_timestamp",
            r"column 'event_timestamp' holds 'soon', which is not a timestamp; write timestamps as ISO-8601",
        ),
        (
            pd.DataFrame({"customer_id": ["a"], "event_timestamp": [T0], "calls": [3]}),
            "event_timestamp",
            r"entity frame column 'calls' has the name of a feature",
        ),
    ],
)
def test_bad_entity_frames_are_features_errors(store, entity, timestamp_column, match):
    with pytest.raises(FeaturesError, match=match):
        build_training_set(entity, store, SERVICE, timestamp_column=timestamp_column)


def test_an_unregistered_service_is_a_features_error(store):
    with pytest.raises(FeaturesError, match=r"feature service 'nope' is not registered .*svc"):
        build_training_set(labels(("a", T0)), store, "nope")
