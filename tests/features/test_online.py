"""Online feature vectors in the model's column order (kfops.features.online)."""

from __future__ import annotations

import pandas as pd
import pytest

from kfops.config import FeaturesConfig
from kfops.errors import FeaturesError
from kfops.features.materialize import materialize_to
from kfops.features.online import online_feature_columns, online_feature_vector
from kfops.features.store import apply_definitions, open_store

from .conftest import DAY, SERVICE, T0, free_port

ORDER = ["age", "plan", "calls"]  # the model's order, not the service's
ROWS = [{"customer_id": "a"}, {"customer_id": "nobody"}, {"customer_id": "b"}]


def check_vector(store) -> None:
    materialize_to(store, (T0 + 3 * DAY).to_pydatetime())
    frame = online_feature_vector(store, SERVICE, ROWS, ORDER)
    assert list(frame.columns) == ORDER
    assert frame.iloc[0].tolist() == [30, "plus", 2]  # the latest value at the cutoff
    assert frame.iloc[1].isna().all()
    assert frame.iloc[2].tolist() == [50, "basic", 7]
    keyed = online_feature_vector(store, SERVICE, ROWS[:1], ["customer_id", "calls"])
    assert keyed.iloc[0].tolist() == ["a", 2]
    # The server's form: Feast's column lists in the model's order, None where unknown.
    columns = online_feature_columns(store, SERVICE, ROWS, ORDER)
    assert list(columns) == ORDER
    assert columns == {
        "age": [30, None, 50],
        "plan": ["plus", None, "basic"],
        "calls": [2, None, 7],
    }


def test_sqlite_vector_in_the_requested_order(store):
    check_vector(store)


def test_redis_vector_in_the_requested_order(repo, state, redis_url):
    cfg = FeaturesConfig(repo=str(repo), service=SERVICE, store_yaml="feature_store.redis.yaml")
    store = open_store(cfg, state)
    apply_definitions(store, cfg)
    assert store.config.online_store.connection_string == redis_url
    check_vector(store)


def test_unreachable_redis_is_a_features_error_before_anything_runs(repo, state, monkeypatch):
    port = free_port()  # nothing listens there
    monkeypatch.setenv("KFOPS_FEAST_REDIS", f"127.0.0.1:{port},password=secret")
    cfg = FeaturesConfig(repo=str(repo), service=SERVICE, store_yaml="feature_store.redis.yaml")
    with pytest.raises(
        FeaturesError,
        match=rf"feature_store.redis.yaml: Redis online store at 127.0.0.1:{port} unreachable "
        r"\(.*\); start Redis or fix KFOPS_FEAST_REDIS \(host:port\)$",
    ) as caught:
        open_store(cfg, state)
    assert "secret" not in str(caught.value)


@pytest.mark.parametrize(
    ("rows", "order", "match"),
    [
        ([{"id": "a"}], ORDER, r"entity row 0 \{'id': 'a'\} has no 'customer_id' \(join key"),
        (ROWS, ["age", "tenure"], r"feature 'tenure' is not in feature service 'svc'; fix"),
    ],
)
def test_bad_requests_are_features_errors(store, rows, order, match):
    with pytest.raises(FeaturesError, match=match):
        online_feature_vector(store, SERVICE, rows, order)


def test_an_unknown_service_is_a_features_error(store):
    with pytest.raises(FeaturesError, match=r"feature service 'v2' is not registered"):
        online_feature_vector(store, "v2", ROWS, ORDER)


def test_the_vector_is_a_frame(store):
    materialize_to(store, (T0 + 3 * DAY).to_pydatetime())
    assert isinstance(online_feature_vector(store, SERVICE, ROWS, ORDER), pd.DataFrame)
