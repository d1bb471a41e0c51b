"""Validation statistics: in-memory frames against a Beam pipeline (validation.beam_options).

The bundled churn data is repeated to the asked size (ids made unique), split 80/20 and
validated by the TFDV runtime both ways, in one runtime process whose TFDV import is
paid before timing; the Beam path still pays TensorFlow's import in each of its worker processes.

    .venv/bin/python benchmarks/validation_beam.py [--copies 20] [--workers 2]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import pandas as pd

from kfops.validation import runtime

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "examples" / "churn" / "data" / "churn.csv"


def write_splits(copies: int, folder: Path) -> dict[str, str]:
    frame = pd.read_csv(DATA)
    frames = []
    for copy in range(copies):
        part = frame.copy()
        part["customer_id"] = part["customer_id"] + f"-{copy}"
        frames.append(part)
    data = pd.concat(frames, ignore_index=True)
    data["event_timestamp"] = pd.to_datetime(data["event_timestamp"], utc=True)
    cut = int(len(data) * 0.8)
    paths = {"train": folder / "train.parquet", "test": folder / "test.parquet"}
    data.iloc[:cut].to_parquet(paths["train"], index=False)
    data.iloc[cut:].reset_index(drop=True).to_parquet(paths["test"], index=False)
    return {split: str(path) for split, path in paths.items()}


def request(splits: dict[str, str], out: Path, beam_options: list[str]) -> dict:
    return {
        "train_path": splits["train"],
        "test_path": splits["test"],
        "schema_path": str(REPO / "examples" / "churn" / "schema" / "schema.pbtxt"),
        "out_dir": str(out),
        "exclude_columns": [],
        "id_columns": ["customer_id", "event_timestamp"],
        "timestamp_column": "event_timestamp",
        "min_domain_mass": 1.0,
        "max_missing_fraction": None,
        "drift_threshold": None,
        "beam_options": beam_options,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=20, help="times the 6000 churn rows")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    beam = ["--direct_running_mode=multi_processing", f"--direct_num_workers={args.workers}"]
    with tempfile.TemporaryDirectory(prefix="kfops-bench-") as tmp, runtime.worker_session():
        folder = Path(tmp)
        splits = write_splits(args.copies, folder)
        rows = 6000 * args.copies
        runtime.run_worker(request(splits, folder / "warm-up", []))  # TFDV's import, once
        for label, options in (("in-memory frames", []), (f"Beam, {args.workers} workers", beam)):
            started = time.perf_counter()
            runtime.run_worker(request(splits, folder / label.split()[0], options))
            print(f"{rows:>9} rows  {label:<20} {time.perf_counter() - started:6.1f} s")


if __name__ == "__main__":
    main()
