"""Features step: replace each split's label rows by their point-in-time training set.

With no ``features`` section the splits pass through unchanged, and Feast (11-14 s to
import) is never imported, so the step costs two hard links in pipelines without a store.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from kfops.config import KfopsConfig, config_from_dict
from kfops.errors import FeaturesError
from kfops.steps.results import FeaturesResult


def _pass_through(source: str, target: str) -> None:
    """Hand a split on unchanged: a hard link where the file system allows, else a copy."""
    Path(target).parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def run_features(
    config: dict[str, Any], train_in: str, test_in: str, train_out: str, test_out: str
) -> FeaturesResult:
    """Apply the repo, build both training sets, materialize to the cutoff; return a summary.

    The cutoff is ``features.cutoff``, or else the latest label time in either split, so
    the online store holds what the model would have seen when its data ended. A repo that
    travelled in the config (``features.files``, a cluster run) is written to a temporary
    folder first and must read its data from URIs.
    """
    started = time.perf_counter()
    cfg = config_from_dict(config)
    if cfg.features is None:
        _pass_through(train_in, train_out)
        _pass_through(test_in, test_out)
        return FeaturesResult(skipped=True, seconds=time.perf_counter() - started)
    if not cfg.data.timestamp_column:
        raise FeaturesError(
            "data.timestamp_column is not set; point-in-time feature joins need each "
            "label's time: set it (e.g. event_timestamp)"
        )

    if cfg.features.files is None:
        return _build(cfg, train_in, test_in, train_out, test_out, started, remote=False)
    from kfops.features.embedded import write_repo

    with tempfile.TemporaryDirectory(prefix="kfops-feature-repo-") as tmp:
        features = write_repo(cfg.features, Path(tmp))
        cfg = cfg.model_copy(update={"features": features})
        return _build(cfg, train_in, test_in, train_out, test_out, started, remote=True)


def _build(
    cfg: KfopsConfig,
    train_in: str,
    test_in: str,
    train_out: str,
    test_out: str,
    started: float,
    remote: bool,
) -> FeaturesResult:
    import pandas as pd

    from kfops.features.materialize import materialize_to
    from kfops.features.store import apply_definitions, open_store
    from kfops.features.training_set import build_training_set, feature_names, resolve_service

    assert cfg.features is not None and cfg.data.timestamp_column
    column = cfg.data.timestamp_column
    store = open_store(cfg.features, cfg.runtime.root)
    apply_definitions(store, cfg.features, remote_sources=remote)
    service = resolve_service(store, cfg.features.service)
    sets = {}
    for name, source in (("train", train_in), ("test", test_in)):
        sets[name] = build_training_set(pd.read_parquet(source), store, service, column)
    latest = max(frame[column].max() for frame in sets.values())
    cutoff = pd.Timestamp(cfg.features.cutoff) if cfg.features.cutoff else latest
    cutoff = cutoff.tz_localize("UTC") if cutoff.tzinfo is None else cutoff.tz_convert("UTC")
    report = materialize_to(
        store, cutoff.to_pydatetime(), [p.name for p in service.feature_view_projections]
    )
    for name, target in (("train", train_out), ("test", test_out)):
        Path(target).parent.mkdir(parents=True, exist_ok=True)
        sets[name].to_parquet(target, index=False)
    return FeaturesResult(
        skipped=False,
        feature_service=service.name,
        features=tuple(feature_names(service)),
        store=cfg.features.store_yaml,
        train_rows=len(sets["train"]),
        test_rows=len(sets["test"]),
        cutoff=report.cutoff,
        materialized_rows=report.rows,
        materialize_seconds=report.seconds,
        materialize_rows_per_second=report.rows_per_second,
        seconds=time.perf_counter() - started,
    )
