"""The MLflow dataset source for dvc:// URIs (kfops.registry.dataset_source)."""

from __future__ import annotations

import pandas as pd
import pytest
from mlflow.data.dataset_source_registry import get_dataset_source_from_json

from kfops.registry import dataset_source as module
from kfops.registry.dataset_source import DvcDatasetSource, dataset_source


@pytest.mark.parametrize(
    ("uri", "revision", "kind"),
    [
        ("dvc://data/churn.csv@v1", "3f2c", DvcDatasetSource),
        ("DVC://data/churn.csv@v1", "", DvcDatasetSource),
        ("/data/churn.csv", "", str),
        ("s3://bucket/churn.csv", "", str),
    ],
)
def test_dvc_uris_get_a_dvc_source_others_stay_strings(uri: str, revision: str, kind) -> None:
    assert isinstance(dataset_source(uri, revision), kind)


@pytest.mark.parametrize(
    ("uri", "revision", "pinned"),
    [
        ("dvc://data/churn.csv@v1", "3f2c", "dvc://data/churn.csv@3f2c"),
        ("dvc:///r/a@b.csv@main", "3f2c", "dvc:///r/a@b.csv@3f2c"),
        ("dvc://data/churn.csv@v1", "", "dvc://data/churn.csv@v1"),
    ],
)
def test_pinned_uri_reads_the_recorded_commit(uri: str, revision: str, pinned: str) -> None:
    assert DvcDatasetSource(uri, revision).pinned_uri == pinned


def test_round_trips_through_mlflow_json(monkeypatch: pytest.MonkeyPatch) -> None:
    source = DvcDatasetSource("dvc://data/churn.csv@v1", "3f2c")
    back = get_dataset_source_from_json(source.to_json(), source_type="dvc")
    assert isinstance(back, DvcDatasetSource) and back.to_dict() == source.to_dict()
    read: list[str] = []
    monkeypatch.setattr(
        "kfops.data.ingest.read_dataset", lambda uri: read.append(uri) or pd.DataFrame()
    )
    back.load()
    assert read == ["dvc://data/churn.csv@3f2c"]
    assert module.SOURCE_TYPE == "dvc"
