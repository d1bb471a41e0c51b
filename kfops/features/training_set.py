"""Point-in-time-correct training sets: each label row gets the feature values of its time.

For a row at time t, a view contributes its latest value at or before t, and nothing when
that value is older than the view's TTL: a value written after t never reaches the row.

Feast's file offline store drops an entity row outright when none of its values falls in
[t - ttl, t] (and collapses rows with the same key and time), taking the values of every
other view with it. So each view is retrieved on its own, for the distinct (keys, time)
pairs, and joined back onto the untouched entity frame: a row without a value in one
view gets nulls for that view only, and every row comes back, in its original order.
"""

from __future__ import annotations

import pandas as pd
from feast import FeatureService, FeatureStore
from feast.feature_view_projection import FeatureViewProjection

from kfops.data.ingest import parse_timestamps
from kfops.errors import DataError, FeaturesError
from kfops.features.feast_metrics import forget_feast_multiprocess_dir
from kfops.features.store import feast_errors, source_data

forget_feast_multiprocess_dir()

FEAST_TIME = "event_timestamp"  # the entity timestamp column name Feast looks for
_TIME = "__kfops_time"


def resolve_service(store: FeatureStore, service: str | FeatureService) -> FeatureService:
    """The registered service; a name the registry does not know is a FeaturesError."""
    if isinstance(service, FeatureService):
        return service
    try:
        return store.get_feature_service(service, allow_cache=True)
    except Exception as exc:
        known = ", ".join(sorted(s.name for s in store.list_feature_services())) or "none"
        raise FeaturesError(
            f"feature service '{service}' is not registered in project "
            f"'{store.project}' (registered: {known}); fix features.service or apply the repo"
        ) from exc


def feature_names(service: FeatureService) -> list[str]:
    """The service's features, plain names, in its order: views in order, then their fields."""
    names = [f.name for p in service.feature_view_projections for f in p.features]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise FeaturesError(
            f"feature service '{service.name}' has two features named '{repeated[0]}'; "
            "plain column names must be unique: rename one of them in its view"
        )
    return names


def join_keys(store: FeatureStore, projection: FeatureViewProjection) -> list[str]:
    if projection.join_key_map:
        raise FeaturesError(
            f"feature view '{projection.name}': join key maps are not supported; name the "
            "entity frame's columns after the entity's join keys instead"
        )
    view = store.get_feature_view(projection.name, allow_registry_cache=True)
    return [column.name for column in view.entity_columns]


def _check_columns(frame: pd.DataFrame, required: dict[str, str], features: list[str]) -> None:
    shown = ", ".join(map(str, frame.columns[:12])) + (", ..." if frame.shape[1] > 12 else "")
    for column, role in required.items():
        if column not in frame.columns:
            raise FeaturesError(
                f"entity frame has no column '{column}' ({role}); its columns are: {shown}; "
                "add it to the data or fix data.entity_column / data.timestamp_column"
            )
    clash = [name for name in features if name in frame.columns]
    if clash:
        raise FeaturesError(
            f"entity frame column '{clash[0]}' has the name of a feature; drop it from the "
            "data (the feature store supplies it) or rename it"
        )


def _times(frame: pd.DataFrame, column: str) -> pd.Series:
    try:
        times = parse_timestamps(frame[column], column, "entity frame")
    except DataError as exc:
        raise FeaturesError(exc.message) from exc
    return times.astype("datetime64[ns, UTC]")


def build_training_set(
    entity_df: pd.DataFrame,
    store: FeatureStore,
    service: str | FeatureService,
    timestamp_column: str = FEAST_TIME,
) -> pd.DataFrame:
    """The entity frame's columns, then the service's features (plain names, service order).

    Rows and their order are those of ``entity_df``; its timestamp column is returned as
    UTC datetimes.
    """
    resolved = resolve_service(store, service)
    features = feature_names(resolved)
    keys_of = {p.name: join_keys(store, p) for p in resolved.feature_view_projections}
    required = {timestamp_column: "the event timestamp"}
    for view, keys in keys_of.items():
        for key in keys:
            required.setdefault(key, f"join key of feature view '{view}'")
    _check_columns(entity_df, required, features)
    result = entity_df.copy()
    result[timestamp_column] = _times(entity_df, timestamp_column)
    result[_TIME] = result[timestamp_column]
    for projection in resolved.feature_view_projections:
        keys = keys_of[projection.name]
        names = [f.name for f in projection.features]
        query = result[[*keys, _TIME]].drop_duplicates().rename(columns={_TIME: FEAST_TIME})
        refs = [f"{projection.name}:{name}" for name in names]
        view = store.get_feature_view(projection.name, allow_registry_cache=True)
        with feast_errors(
            f"feature view '{projection.name}': historical retrieval failed",
            f"check {source_data(view)} and the entity frame's key types",
        ):
            found = store.get_historical_features(entity_df=query, features=refs).to_df()
        found = found.rename(columns={FEAST_TIME: _TIME})[[*keys, _TIME, *names]]
        found[_TIME] = found[_TIME].astype("datetime64[ns, UTC]")
        result = result.merge(found, on=[*keys, _TIME], how="left", validate="many_to_one")
    return result[[*entity_df.columns, *features]]
