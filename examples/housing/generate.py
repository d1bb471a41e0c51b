"""Write the bundled house-price dataset, ``data/housing.parquet``.

A small regression example that takes the Parquet path through the platform: no entity
and no timestamp, numeric and categorical features, a lot size that is sometimes
unknown, and a price with real signal plus noise (a random forest reaches an R2 near 0.8).

Run from anywhere: ``python examples/housing/generate.py``; the fixed seed makes the
data identical on every run.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

ROWS = 2000
SEED = 7
OUTPUT = Path(__file__).resolve().parent / "data" / "housing.parquet"

# Price premium of each neighborhood over the cheapest one, in dollars.
NEIGHBORHOODS = {
    "riverside": 0.0,
    "old_town": 25_000.0,
    "midtown": 60_000.0,
    "hillcrest": 110_000.0,
    "lakeside": 150_000.0,
    "university": 40_000.0,
}
# Price multiplier of the house's condition.
CONDITIONS = {"poor": 0.80, "fair": 0.92, "good": 1.0, "excellent": 1.12}


def _price(frame: pd.DataFrame, rng: np.random.Generator) -> np.ndarray:
    """Additive value of the house, scaled by its condition, with 10% multiplicative noise.

    Worked example: 1,800 sqft, 3 bedrooms, 20 years old, a 6,000 sqft lot in midtown, in
    good condition: (40,000 + 1,800 * 140 + 3 * 8,000 - 20 * 900 + 6,000 * 3 + 60,000)
    * 1.0 = 376,000 before noise.
    """
    lot = frame["lot_size"].to_numpy()
    value = (
        40_000.0
        + 140.0 * frame["sqft"].to_numpy()
        + 8_000.0 * frame["bedrooms"].to_numpy()
        - 900.0 * frame["age_years"].to_numpy()
        + 3.0 * lot
        + frame["neighborhood"].map(NEIGHBORHOODS).to_numpy()
    )
    value *= frame["condition"].map(CONDITIONS).to_numpy()
    return np.round(value * rng.normal(1.0, 0.10, size=len(frame)), -2)


def generate(rows: int = ROWS, seed: int = SEED) -> pd.DataFrame:
    """Build the housing table; the same arguments always give the same frame."""
    rng = np.random.default_rng(seed)
    bedrooms = rng.choice([1, 2, 3, 4, 5, 6], size=rows, p=[0.08, 0.22, 0.35, 0.22, 0.10, 0.03])
    sqft = np.clip(np.round(350 + 450 * bedrooms + rng.normal(0, 300, rows), -1), 400, 6000)
    frame = pd.DataFrame(
        {
            "sqft": sqft.astype(int),
            "bedrooms": bedrooms,
            "age_years": np.clip(np.round(rng.gamma(2.0, 14.0, rows)), 0, 120).astype(int),
            "lot_size": np.clip(np.round(rng.lognormal(8.6, 0.5, rows), -1), 1000, 40_000),
            "neighborhood": rng.choice(list(NEIGHBORHOODS), size=rows),
            "condition": rng.choice(list(CONDITIONS), size=rows, p=[0.08, 0.27, 0.45, 0.20]),
        }
    )
    frame["price"] = _price(frame, rng)
    frame.loc[rng.random(rows) < 0.05, "lot_size"] = np.nan
    return frame


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUTPUT)
    parser.add_argument("--rows", type=int, default=ROWS)
    args = parser.parse_args()
    frame = generate(args.rows)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(args.out, index=False)
    print(f"{args.out}: {len(frame)} rows, median price {frame['price'].median():,.0f}")


if __name__ == "__main__":
    main()
