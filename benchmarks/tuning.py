"""The embedded tuner on the churn example: throughput, and quality against trial budget.

1. Trials per minute with parallel_trial_count 1 and 2 (random search, same trials).
2. Best 3-fold CV ROC AUC reached with 4, 8 and 16 trials, random against tpe, and the
   held-out test ROC AUC of the winner refitted on the whole training split, next to the
   estimator's defaults. Both measured in one run: the machine's speed drifts between runs.

    .venv/bin/python benchmarks/tuning.py [--budgets 4 8 16] [--throughput-trials 8]
"""

from __future__ import annotations

import argparse
import copy
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "examples" / "churn" / "data" / "churn.csv"
SEED = 42
TUNING = {
    "backend": "local",
    "objective": {"metric": "roc_auc"},
    "algorithm": {"name": "random", "settings": {"random_state": SEED}},
    "parallel_trial_count": 1,
    "max_trial_count": 8,
    "max_failed_trial_count": 0,
    "cv_folds": 3,
    "parameters": [
        {
            "name": "n_estimators",
            "type": "int",
            "feasible_space": {"min": 20, "max": 100, "step": 20},
        },
        {"name": "max_depth", "type": "int", "feasible_space": {"min": 2, "max": 16}},
        {"name": "min_samples_leaf", "type": "int", "feasible_space": {"min": 1, "max": 30}},
        {
            "name": "max_features",
            "type": "categorical",
            "feasible_space": {"list": ["sqrt", "log2"]},
        },
    ],
}


def config(**changes):
    from kfops.config import load_config

    tuning = copy.deepcopy(TUNING)
    tuning.update(changes)
    raw = {
        "project": "churn",
        "data": {
            "path": str(DATA),
            "target": "churned",
            "task": "classification",
            "entity_column": "customer_id",
            "timestamp_column": "event_timestamp",
        },
        "model": {
            "estimator": "sklearn.ensemble.RandomForestClassifier",
            "params": {"n_estimators": 100, "random_state": SEED, "n_jobs": 1},
        },
        "tuning": tuning,
    }
    return load_config(raw=raw)


def test_auc(cfg, train, test, params) -> float:
    from kfops.config import ModelConfig, TaskType
    from kfops.training.estimator import train_model
    from kfops.tuning.scoring import score

    model_cfg = ModelConfig(estimator=cfg.model.estimator, params={**cfg.model.params, **params})
    model = train_model(train, cfg.data, model_cfg, TaskType.CLASSIFICATION)
    features = list(model.feature_names_in_)
    return score(model, test[features], test[cfg.data.target], "roc_auc")


def main() -> None:
    import pandas as pd

    from kfops.config import TaskType
    from kfops.data.ingest import split_dataset
    from kfops.tuning.local import tune_locally
    from kfops.tuning.objective import cross_validate

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budgets", type=int, nargs="+", default=[4, 8, 16])
    parser.add_argument("--throughput-trials", type=int, default=8)
    args = parser.parse_args()

    base = config()
    train, test = split_dataset(pd.read_csv(DATA), base.data, TaskType.CLASSIFICATION)
    work = Path(tempfile.mkdtemp(prefix="kfops-bench-tuning-"))
    train_path = str(work / "train.parquet")
    train.to_parquet(train_path, index=False)
    print(f"churn: {len(train)} training rows, {len(test)} test rows; {os.cpu_count()} CPUs")
    print(
        "search: RandomForest n_estimators 20-100, max_depth 2-16, min_samples_leaf 1-30, max_features"
    )

    def run(cfg):
        started = time.perf_counter()
        result = tune_locally(
            cfg, train_path, TaskType.CLASSIFICATION, str(work), show_progress=False
        )
        return result, time.perf_counter() - started

    print(f"\nThroughput: random search, {args.throughput_trials} trials, 3-fold CV each")
    print(
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (other work shares them)"
    )
    print(
        f"{'parallel':>8} | {'seconds':>7} | {'trials/min':>10} | {'speed-up':>8} | {'in flight':>9}"
    )
    first = None
    for parallel in (1, 2):
        cfg = config(parallel_trial_count=parallel, max_trial_count=args.throughput_trials)
        result, seconds = run(cfg)
        rate = len(result.trials) / seconds * 60
        first = first or rate
        # trials in flight on average: the sum of trial durations over the wall time
        busy = sum(r.seconds or 0.0 for r in result.trials) / seconds
        print(
            f"{parallel:>8} | {seconds:>7.1f} | {rate:>10.1f} | {rate / first:>7.2f}x | {busy:>9.2f}"
        )

    default_cv = cross_validate(train, base, TaskType.CLASSIFICATION, "roc_auc", {}).value
    default_test = test_auc(base, train, test, {})
    print("\nBest ROC AUC against trial budget (parallel 2; CV = 3-fold on train, test = held out)")
    print(
        f"{'budget':>6} | {'algorithm':>9} | {'best CV':>7} | {'test':>6} | {'seconds':>7} | best params"
    )
    print(
        f"{'-':>6} | {'defaults':>9} | {default_cv:>7.4f} | {default_test:>6.4f} | {'':>7} | n_estimators=100"
    )
    for budget in args.budgets:
        for name, settings in (
            ("random", {"random_state": SEED}),
            ("tpe", {"random_state": SEED, "n_startup_trials": 3}),
        ):
            cfg = config(
                algorithm={"name": name, "settings": settings},
                parallel_trial_count=2,
                max_trial_count=budget,
            )
            result, seconds = run(cfg)
            held_out = test_auc(cfg, train, test, result.best_params)
            shown = ", ".join(f"{k}={v}" for k, v in result.best_params.items())
            print(
                f"{budget:>6} | {name:>9} | {result.best_value:>7.4f} | {held_out:>6.4f} | "
                f"{seconds:>7.1f} | {shown}"
            )


if __name__ == "__main__":
    main()
