"""Fixtures for the validation tests: churn splits as Parquet, configs, one TFDV session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from kfops.config import DataConfig, ValidationConfig
from kfops.validation import runtime

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures"
CLEAN_CSV = FIXTURES / "churn_small.csv"
ANOMALOUS_CSV = FIXTURES / "churn_anomalous.csv"
CURATED_SCHEMA = REPO / "examples" / "churn" / "schema" / "schema.pbtxt"


def write_split(csv: Path, out: Path, rows: slice = slice(None)) -> str:
    """Read churn rows as the ingest step does (UTC timestamps) and write Parquet."""
    frame = pd.read_csv(csv).iloc[rows].reset_index(drop=True)
    frame["event_timestamp"] = pd.to_datetime(frame["event_timestamp"], utc=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(out, index=False)
    return str(out)


@pytest.fixture
def churn_data() -> DataConfig:
    return DataConfig(
        path=str(CLEAN_CSV),
        target="churned",
        entity_column="customer_id",
        timestamp_column="event_timestamp",
    )


@pytest.fixture
def curated(tmp_path: Path) -> ValidationConfig:
    """The curated example schema, copied so a test can check it is left untouched."""
    schema = tmp_path / "schema" / "schema.pbtxt"
    schema.parent.mkdir()
    schema.write_bytes(CURATED_SCHEMA.read_bytes())
    return ValidationConfig(schema_path=str(schema))


@pytest.fixture
def clean_splits(tmp_path: Path) -> tuple[str, str]:
    """240 train and 60 test rows of clean churn data."""
    return (
        write_split(CLEAN_CSV, tmp_path / "clean" / "train.parquet", slice(0, 240)),
        write_split(CLEAN_CSV, tmp_path / "clean" / "test.parquet", slice(240, 300)),
    )


@pytest.fixture(scope="module")
def tfdv_session() -> Iterator[runtime.WorkerSession | None]:
    """One TFDV runtime process for a whole test module: TFDV's import is paid once."""
    with runtime.worker_session() as session:
        yield session
