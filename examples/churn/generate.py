"""Write the bundled customer-churn dataset, ``data/churn.csv``.

The data are synthetic but shaped like a telecom churn table, so that every stage of the
platform has something real to do: missing numbers to impute, missing categories to
encode, an entity key and event timestamps for the feature store, and a label with true
but noisy signal, so a random forest reaches a ROC AUC near 0.85 rather than 1.0.

Run from anywhere: ``python examples/churn/generate.py``. The output is byte-for-byte the
same on every run (fixed seed, no network).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

ROWS = 6000
SEED = 20250101
OUTPUT = Path(__file__).resolve().parent / "data" / "churn.csv"

CONTRACTS = ["month-to-month", "one-year", "two-year"]
PAYMENT_METHODS = ["electronic_check", "mailed_check", "bank_transfer", "credit_card"]
INTERNET_SERVICES = ["dsl", "fiber", "none"]
REGIONS = ["north", "south", "east", "west", "central"]


def _timestamps(rng: np.random.Generator, rows: int) -> pd.Series:
    """Event times spread uniformly over 2025, to the second, in UTC."""
    start = pd.Timestamp("2025-01-01T00:00:00Z")
    seconds = rng.integers(0, 365 * 24 * 3600, size=rows)
    return start + pd.to_timedelta(seconds, unit="s")


def _churn_probability(frame: pd.DataFrame, rng: np.random.Generator) -> np.ndarray:
    """Logistic model of churn; the noise term keeps the label from being predictable.

    Worked example: a 45-year-old month-to-month fiber customer paying by credit card,
    with 3 months of tenure, 3 support calls and a 90.0 bill, has a logit of
    -2.5 + 1.8 + 0.6 + 3 * 0.45 - 3 * 0.045 + (90 - 70) * 0.02 = 1.515 before noise,
    a churn probability near 0.82.
    """
    contract = frame["contract"].to_numpy()
    logit = (
        -2.5
        + 1.8 * (contract == "month-to-month")
        - 0.9 * (contract == "two-year")
        + 0.45 * frame["support_calls"].to_numpy()
        - 0.045 * frame["tenure_months"].to_numpy()
        + 0.02 * (frame["monthly_charges"].to_numpy() - 70.0)
        + 0.6 * (frame["internet_service"].to_numpy() == "fiber")
        + 0.4 * (frame["payment_method"].to_numpy() == "electronic_check")
        - 0.01 * (frame["age"].to_numpy() - 45)
        + rng.normal(0.0, 0.5, size=len(frame))
    )
    return 1.0 / (1.0 + np.exp(-logit))


def generate(rows: int = ROWS, seed: int = SEED) -> pd.DataFrame:
    """Build the churn table; the same arguments always give the same frame."""
    rng = np.random.default_rng(seed)
    contract = rng.choice(CONTRACTS, size=rows, p=[0.55, 0.25, 0.20])
    # Longer contracts go with longer tenure: mean 14, 32 and 48 months.
    mean_tenure = np.select([contract == "one-year", contract == "two-year"], [32.0, 48.0], 14.0)
    tenure = np.clip(np.round(rng.gamma(2.0, mean_tenure / 2.0)), 1, 72).astype(int)
    internet = rng.choice(INTERNET_SERVICES, size=rows, p=[0.35, 0.45, 0.20])
    num_products = rng.choice([1, 2, 3, 4, 5], size=rows, p=[0.35, 0.30, 0.20, 0.10, 0.05])
    base = np.select([internet == "dsl", internet == "fiber"], [45.0, 70.0], 20.0)
    monthly = np.clip(base + 6.0 * num_products + rng.normal(0, 8.0, rows), 18.0, 120.0).round(2)
    total = (monthly * tenure * rng.normal(1.0, 0.05, rows)).round(2)
    support_rate = 0.8 + 0.6 * (internet == "fiber") + 0.4 * (tenure < 6)
    frame = pd.DataFrame(
        {
            "customer_id": [f"C{n:06d}" for n in rng.choice(999_999, size=rows, replace=False) + 1],
            "event_timestamp": _timestamps(rng, rows),
            "tenure_months": tenure,
            "monthly_charges": monthly,
            "total_charges": total,
            "support_calls": rng.poisson(support_rate),
            "age": np.clip(np.round(rng.normal(45, 15, rows)), 18, 85).astype(int),
            "num_products": num_products,
            "contract": contract,
            "payment_method": rng.choice(PAYMENT_METHODS, size=rows, p=[0.35, 0.2, 0.22, 0.23]),
            "internet_service": internet,
            "region": rng.choice(REGIONS, size=rows),
        }
    )
    frame["churned"] = (rng.random(rows) < _churn_probability(frame, rng)).astype(int)
    # Missing values arrive after the label is drawn: they hide signal, they do not carry it.
    frame.loc[rng.random(rows) < 0.03, "total_charges"] = np.nan
    frame.loc[rng.random(rows) < 0.02, "region"] = None
    return frame.sort_values("event_timestamp", kind="stable").reset_index(drop=True)


def write(frame: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    out = frame.copy()
    out["event_timestamp"] = out["event_timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    out.to_csv(path, index=False, lineterminator="\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUTPUT)
    parser.add_argument("--rows", type=int, default=ROWS)
    args = parser.parse_args()
    frame = generate(args.rows)
    write(frame, args.out)
    print(f"{args.out}: {len(frame)} rows, churn rate {frame['churned'].mean():.3f}")


if __name__ == "__main__":
    main()
