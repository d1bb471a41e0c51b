"""Online feature vectors: what the model server looks up when a request names entities.

A request that carries ``{"customer_id": "C000042"}`` instead of features gets the latest
materialized values of the model's feature service, in the model's column order, so the
model sees the same columns it was trained on. The server takes them as Feast's own
column lists (:func:`online_feature_columns`): a DataFrame around them cost more than
Feast's lookup of one entity (0.59 against 0.22 ms p50, sqlite, benchmarks/features.py).
"""

from __future__ import annotations

from typing import Any
from weakref import WeakKeyDictionary

import pandas as pd
from feast import FeatureService, FeatureStore

from kfops.errors import FeaturesError
from kfops.features.feast_metrics import forget_feast_multiprocess_dir
from kfops.features.store import feast_errors
from kfops.features.training_set import join_keys, resolve_service

forget_feast_multiprocess_dir()

Shape = tuple[FeatureService, set[str], set[str]]  # service, join keys, feature names

# store -> service name -> shape. Reading a service or a view back from the registry costs
# milliseconds (protobuf and type checks), ten times a lookup, so a serving process reads
# each service's shape once; definitions applied after that need a new FeatureStore.
_SHAPES: WeakKeyDictionary[FeatureStore, dict[str, Shape]] = WeakKeyDictionary()


def _shape(store: FeatureStore, service: str | FeatureService) -> Shape:
    known = _SHAPES.setdefault(store, {})
    name = service if isinstance(service, str) else service.name
    if name not in known:
        resolved = resolve_service(store, service)
        projections = resolved.feature_view_projections
        keys = {key for p in projections for key in join_keys(store, p)}
        known[name] = (resolved, keys, {f.name for p in projections for f in p.features})
    return known[name]


def online_feature_vector(
    store: FeatureStore,
    service: str | FeatureService,
    entity_rows: list[dict[str, Any]],
    feature_order: list[str],
) -> pd.DataFrame:
    """One row per entity row, the columns of ``feature_order``; unknown entities get nulls."""
    return pd.DataFrame(online_feature_columns(store, service, entity_rows, feature_order))


def online_feature_columns(
    store: FeatureStore,
    service: str | FeatureService,
    entity_rows: list[dict[str, Any]],
    feature_order: list[str],
) -> dict[str, list[Any]]:
    """The columns of ``feature_order`` (in that order), a value per entity row; unknown
    entities get None.

    ``feature_order`` may name the entity's join keys too; any other name must be a
    feature of the service.
    """
    resolved, keys, features = _shape(store, service)
    for number, row in enumerate(entity_rows):
        missing = sorted(keys - set(row))
        if missing:
            raise FeaturesError(
                f"entity row {number} {row!r} has no '{missing[0]}' (join key of feature "
                f"service '{resolved.name}'); send it with every entity row"
            )
    unknown = [name for name in feature_order if name not in features and name not in keys]
    if unknown:
        raise FeaturesError(
            f"feature '{unknown[0]}' is not in feature service '{resolved.name}'; "
            "fix the model's feature order or add the feature to the service"
        )
    with feast_errors(
        f"feature service '{resolved.name}': online lookup failed",
        "check the online store and that the repo was applied and materialized",
    ):
        values = store.get_online_features(features=resolved, entity_rows=entity_rows).to_dict()
    return {name: values[name] for name in feature_order}  # dicts keep order
