"""Write the example's feature snapshots and label frame from ``examples/churn/data/churn.csv``.

Each customer gets four dated snapshots of all its features, so that a point-in-time join
has to choose: two older ones (values a month and two months earlier), the current one a
few hours to five days before the label's time (the values in churn.csv), and one after
the label, where a churned customer shows the closed account (no products, no bill).
A join that leaked the future would hand the model that last snapshot.

Outputs, byte-for-byte the same on every run (fixed seed, no network):

- ``feature_repo/data/customer_features.parquet``: customer_id, event_timestamp, features;
- ``examples/churn/data/churn_labels.csv``: customer_id, event_timestamp, churned.

Run from anywhere: ``python feature_repo/generate.py``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO / "examples" / "churn" / "data" / "churn.csv"
FEATURES_OUT = REPO / "feature_repo" / "data" / "customer_features.parquet"
LABELS_OUT = REPO / "examples" / "churn" / "data" / "churn_labels.csv"
SEED = 20250102

KEY, TIME, LABEL = "customer_id", "event_timestamp", "churned"
ACTIVITY = ["tenure_months", "monthly_charges", "total_charges", "support_calls", "num_products"]
PROFILE = ["age", "region", "contract", "payment_method", "internet_service"]
HOUR = pd.Timedelta(hours=1)
DAY = pd.Timedelta(days=1)


def _offsets(rng: np.random.Generator, rows: int, low: pd.Timedelta, high: pd.Timedelta):
    """Random durations in [low, high), to the second."""
    seconds = rng.integers(int(low.total_seconds()), int(high.total_seconds()), size=rows)
    return pd.to_timedelta(seconds, unit="s")


def _earlier(snapshot: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """The same customers about a month before ``snapshot``: one month less tenure, less paid.

    Worked example: 25 months at 86.80 with 2158.87 paid was, a month earlier, 24 months
    with 2158.87 - 86.80 = 2072.07 paid, at a bill within a few units of 86.80.
    """
    rows = len(snapshot)
    out = snapshot.copy()
    out[TIME] = snapshot[TIME] - _offsets(rng, rows, 25 * DAY, 35 * DAY)
    out["tenure_months"] = (snapshot["tenure_months"] - 1).clip(lower=0)
    out["total_charges"] = (snapshot["total_charges"] - snapshot["monthly_charges"]).clip(lower=0)
    out["total_charges"] = out["total_charges"].round(2)
    out["monthly_charges"] = (snapshot["monthly_charges"] + rng.normal(0, 3, rows)).clip(18, 120)
    out["monthly_charges"] = out["monthly_charges"].round(2)
    out["support_calls"] = rng.poisson(1.0, rows)
    fewer = (rng.random(rows) < 0.1) & (snapshot["num_products"] > 1)
    out.loc[fewer, "num_products"] = snapshot.loc[fewer, "num_products"] - 1
    upgraded = (rng.random(rows) < 0.1) & (snapshot["contract"] != "month-to-month")
    out.loc[upgraded, "contract"] = "month-to-month"  # a later upgrade: the old plan shows
    return out


def _after(current: pd.DataFrame, labels: pd.Series, rng: np.random.Generator) -> pd.DataFrame:
    """A snapshot 1-30 days after the label: churned accounts are closed (the leak to avoid)."""
    rows = len(current)
    out = current.copy()
    out[TIME] = labels + _offsets(rng, rows, DAY, 30 * DAY)
    gone = current[LABEL].to_numpy() == 1
    out["tenure_months"] = current["tenure_months"] + 1
    out.loc[gone, ["num_products", "monthly_charges"]] = [0, 0.0]
    out.loc[gone, "support_calls"] = current.loc[gone, "support_calls"] + 3
    return out


def build(churn: pd.DataFrame, seed: int = SEED) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(feature snapshots, labels) from the churn table; same input and seed, same output."""
    rng = np.random.default_rng(seed)
    churn = churn.copy()
    churn[TIME] = pd.to_datetime(churn[TIME], utc=True)
    labels = churn[[KEY, TIME, LABEL]]
    current = churn[[KEY, TIME, *ACTIVITY, *PROFILE, LABEL]].copy()
    current[TIME] = churn[TIME] - _offsets(rng, len(churn), HOUR, 5 * DAY)
    month_ago = _earlier(current, rng)
    two_months_ago = _earlier(month_ago, rng)
    after = _after(current, churn[TIME], rng)
    snapshots = pd.concat([two_months_ago, month_ago, current, after], ignore_index=True)
    snapshots = snapshots.drop(columns=LABEL).sort_values([TIME, KEY], kind="stable")
    for column in ("tenure_months", "support_calls", "num_products", "age"):
        snapshots[column] = snapshots[column].astype("int64")
    return snapshots.reset_index(drop=True), labels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=SOURCE)
    parser.add_argument("--features-out", type=Path, default=FEATURES_OUT)
    parser.add_argument("--labels-out", type=Path, default=LABELS_OUT)
    args = parser.parse_args()
    snapshots, labels = build(pd.read_csv(args.source))
    args.features_out.parent.mkdir(parents=True, exist_ok=True)
    snapshots.to_parquet(args.features_out, index=False, compression="zstd")
    labels = labels.assign(**{TIME: labels[TIME].dt.strftime("%Y-%m-%dT%H:%M:%SZ")})
    labels.to_csv(args.labels_out, index=False, lineterminator="\n")
    size = args.features_out.stat().st_size
    print(f"{args.features_out}: {len(snapshots)} snapshots, {size / 1024:.0f} KiB")
    print(f"{args.labels_out}: {len(labels)} labels")


if __name__ == "__main__":
    main()
