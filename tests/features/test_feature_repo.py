"""The bundled Feast repository, feature_repo/, with the churn example's labels."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd
import pytest

from kfops.config import load_config
from kfops.features.store import apply_definitions, open_store
from kfops.features.training_set import build_training_set

REPO = Path(__file__).resolve().parents[2]
FEATURE_REPO = REPO / "feature_repo"
CONFIG = REPO / "examples" / "churn" / "kfops.features.yaml"
CHURN = REPO / "examples" / "churn" / "data" / "churn.csv"
LABELS = REPO / "examples" / "churn" / "data" / "churn_labels.csv"
FEATURES = [
    "tenure_months",
    "monthly_charges",
    "total_charges",
    "support_calls",
    "num_products",
    "age",
    "region",
    "contract",
    "payment_method",
    "internet_service",
]


def generator():
    spec = importlib.util.spec_from_file_location(
        "feature_repo_generate", FEATURE_REPO / "generate.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def nulls_as_none(frame: pd.DataFrame) -> pd.DataFrame:
    """Missing text is None after a Parquet round trip and NaN after read_csv: compare alike."""
    text = frame.select_dtypes("object").columns
    return frame.assign(**{c: frame[c].where(frame[c].notna(), None) for c in text})


def test_committed_data_is_what_generate_writes():
    snapshots, labels = generator().build(pd.read_csv(CHURN))
    committed = pd.read_parquet(generator().FEATURES_OUT)
    pd.testing.assert_frame_equal(committed, nulls_as_none(snapshots))
    assert generator().FEATURES_OUT.stat().st_size < 1_000_000
    committed_labels = pd.read_csv(LABELS)
    assert list(committed_labels.columns) == ["customer_id", "event_timestamp", "churned"]
    assert committed_labels["customer_id"].tolist() == labels["customer_id"].tolist()
    assert len(snapshots) == 4 * len(labels)  # several dated snapshots per customer


@pytest.fixture(scope="module")
def training_set(tmp_path_factory) -> pd.DataFrame:
    state = tmp_path_factory.mktemp("state")
    cfg = load_config(CONFIG, overrides=[f"runtime.root={state}"])
    assert cfg.features is not None and cfg.features.repo == str(FEATURE_REPO)
    store = open_store(cfg.features, cfg.runtime.root)
    apply_definitions(store, cfg.features)
    labels = pd.read_csv(LABELS)
    return build_training_set(labels, store, cfg.features.service)


def test_the_example_training_set_is_the_churn_table(training_set):
    churn = pd.read_csv(CHURN)
    churn["event_timestamp"] = pd.to_datetime(churn["event_timestamp"], utc=True)
    assert list(training_set.columns) == ["customer_id", "event_timestamp", "churned", *FEATURES]
    pd.testing.assert_frame_equal(
        nulls_as_none(training_set),
        nulls_as_none(churn[list(training_set.columns)]),
        check_dtype=False,
    )


def test_no_closed_account_leaks_into_a_churned_row(training_set):
    # generate.py closes a churned account (no products, no bill) only after the label.
    churned = training_set[training_set["churned"] == 1]
    assert len(churned) > 100
    assert (churned["num_products"] > 0).all()
    assert (churned["monthly_charges"] > 0).all()


def test_nothing_is_written_into_the_committed_repo(training_set):
    assert not (FEATURE_REPO / "registry.db").exists()
    assert not list(FEATURE_REPO.rglob("*.db"))
