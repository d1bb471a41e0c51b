"""Shared, once-per-session fixtures: the bundled churn example, ingested and trained."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.pipeline import Pipeline

from kfops.config import KfopsConfig, TaskType, load_config
from kfops.data.ingest import ingest
from kfops.training.estimator import train_model

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def churn_cfg() -> KfopsConfig:
    return load_config(REPO / "examples" / "churn" / "kfops.yaml")


@pytest.fixture(scope="session")
def churn_splits(
    churn_cfg: KfopsConfig, tmp_path_factory: pytest.TempPathFactory
) -> tuple[pd.DataFrame, pd.DataFrame]:
    out = tmp_path_factory.mktemp("churn")
    ingest(churn_cfg.data, str(out / "train.parquet"), str(out / "test.parquet"))
    return pd.read_parquet(out / "train.parquet"), pd.read_parquet(out / "test.parquet")


@pytest.fixture(scope="session")
def churn_model(churn_cfg: KfopsConfig, churn_splits) -> Pipeline:
    """The example's own model settings (RandomForest, 100 trees), fitted once."""
    return train_model(churn_splits[0], churn_cfg.data, churn_cfg.model, TaskType.CLASSIFICATION)


@pytest.fixture
def mixed_frame() -> pd.DataFrame:
    """Numbers with gaps, text with gaps, booleans: every kind of raw column the model takes.

    ``label`` (yes/no) and ``amount`` (a number) both depend on x and color; a test uses
    one as the target and drops the other.
    """
    rows = 200
    rng = np.random.default_rng(0)
    x = rng.normal(size=rows)
    color = rng.choice(["red", "green", "blue"], size=rows)
    frame = pd.DataFrame(
        {
            "x": x,
            "count": rng.integers(0, 10, size=rows),
            "color": color,
            "flag": rng.random(rows) < 0.5,
            "label": np.where(x + (color == "red") + rng.normal(0, 0.3, rows) > 0.5, "yes", "no"),
            "amount": 3.0 * x + 2.0 * (color == "blue") + rng.normal(0, 0.2, rows),
        }
    )
    frame.loc[::17, "x"] = np.nan
    frame.loc[::13, "color"] = None
    return frame
