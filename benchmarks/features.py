"""Feature store costs on the bundled repo: online lookups, materialization, training sets.

Measured in one run (the machine's speed drifts between runs): online vectors of 1 and 100
customers from sqlite and from a redis-server this script starts on 127.0.0.1 (skipped
when the binary is absent), materialization rows/s into each, and a point-in-time
training set of 10k label rows (kfops, one retrieval per view) against Feast's single
retrieval of the service (which drops rows, see kfops/features/training_set.py).

    .venv/bin/python benchmarks/features.py [--lookups 300]
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from pathlib import Path

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
FEATURE_REPO = REPO / "feature_repo"
LABELS = REPO / "examples" / "churn" / "data" / "churn_labels.csv"
SERVICE = "churn_model_v1"
HISTORICAL_ROWS = 10_000
WARMUP = 5
Row = tuple[str, str, str]


def percentiles(samples: list[float]) -> tuple[float, float]:
    """p50 and p99 in milliseconds (nearest rank: of 300 samples, p99 is the 297th)."""
    ordered = sorted(samples)

    def rank(q: float) -> float:
        return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))] * 1000

    return rank(0.50), rank(0.99)


def timed(call: Callable[[], object], repeat: int, warmup: int = WARMUP) -> list[float]:
    for _ in range(warmup):
        call()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return samples


@contextmanager
def redis_server(workdir: Path) -> Iterator[str | None]:
    """A redis-server of our own on a free port of 127.0.0.1, stopped on exit."""
    binary = shutil.which("redis-server")
    if binary is None:
        yield None
        return
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    args = ["--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"]
    server = subprocess.Popen(
        [binary, *args, "--dir", str(workdir)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
    )
    try:
        for _ in range(200):  # up to 10 s
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        else:
            sys.exit(f"benchmark: redis-server did not start on 127.0.0.1:{port}")
        yield f"127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=10)


def measure(name: str, profile: str, state: Path, lookups: int, rng, labels) -> list[Row]:
    """Apply the repo into ``state``, materialize to the last label, then time lookups."""
    import pandas as pd

    from kfops.config import FeaturesConfig
    from kfops.features.materialize import materialize_to
    from kfops.features.online import online_feature_columns, online_feature_vector
    from kfops.features.store import apply_definitions, open_store
    from kfops.features.training_set import build_training_set, feature_names, resolve_service

    cfg = FeaturesConfig(repo=str(FEATURE_REPO), service=SERVICE, store_yaml=profile)
    store = open_store(cfg, state)
    apply_definitions(store, cfg)
    cutoff = pd.to_datetime(labels["event_timestamp"], utc=True).max().to_pydatetime()
    with redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO()):  # Feast's progress bars
        report = materialize_to(store, cutoff)
    rows = [
        (
            f"materialize ({name})",
            f"{report.rows} rows in {report.seconds:.2f} s",
            f"{report.rows_per_second:,.0f} rows/s",
        )
    ]
    service = resolve_service(store, SERVICE)
    order = feature_names(service)
    customers = labels["customer_id"].to_numpy()
    for entities, repeat in ((1, lookups), (100, max(10, lookups // 6))):
        # Entities are drawn before the clock starts: only the lookup is timed.
        picks = [rng.choice(customers, entities, replace=False) for _ in range(repeat + WARMUP)]
        requests = [[{"customer_id": str(key)} for key in keys] for keys in picks]
        count = f"{entities} entit{'y' if entities == 1 else 'ies'}"
        calls = {
            f"server's columns, {count}": lambda rows: online_feature_columns(
                store, service, rows, order
            ),
            f"  Feast's dict, {count}": lambda rows: store.get_online_features(
                features=service, entity_rows=rows
            ).to_dict(),
            f"  as a DataFrame, {count}": lambda rows: online_feature_vector(
                store, service, rows, order
            ),
        }
        # Alternating rounds, so that the machine's drift hits every call alike.
        samples: dict[str, list[float]] = {what: [] for what in calls}
        rounds = 5
        for _ in range(rounds):
            for what, call in calls.items():
                pending = iter(requests)
                samples[what] += timed(lambda c=call, q=pending: c(next(q)), repeat // rounds)
        p50s = {}
        for what in calls:
            p50s[what], p99 = percentiles(samples[what])
            timing = (f"p50 {p50s[what]:.2f} ms", f"p99 {p99:.2f} ms ({len(samples[what])} calls)")
            rows.append((f"{what} ({name})", *timing))
        ours, feast = (p50s[what] for what in list(calls)[:2])
        verdict = "met" if ours <= 1.2 * feast else "NOT met"
        rows.append(
            (f"  ratio to Feast, {count} ({name})", f"{ours / feast:.2f}x", f"<= 1.2x {verdict}")
        )
    if name != "sqlite":
        return rows
    picks = rng.integers(0, len(labels), size=HISTORICAL_ROWS)
    entity = labels.iloc[picks].reset_index(drop=True)
    shift = pd.to_timedelta(rng.integers(-30, 30, size=HISTORICAL_ROWS), unit="D")
    entity["event_timestamp"] = pd.to_datetime(entity["event_timestamp"], utc=True) + shift
    ours = timed(lambda: build_training_set(entity, store, service), 3, 1)
    theirs = timed(
        lambda: store.get_historical_features(entity_df=entity, features=service).to_df(), 3, 1
    )
    for what, samples in (("kfops", ours), ("feast, one call", theirs)):
        median = sorted(samples)[1]
        rows.append(
            (
                f"training set, {HISTORICAL_ROWS // 1000}k label rows ({what})",
                f"median {median:.2f} s",
                f"{HISTORICAL_ROWS / median:,.0f} rows/s",
            )
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lookups", type=int, default=300, help="timed lookups of 1 entity")
    args = parser.parse_args()

    started = time.perf_counter()
    import numpy as np
    import pandas as pd

    import kfops.features.training_set  # noqa: F401  (Feast's import, timed on its own)

    print(f"import kfops.features (Feast): {time.perf_counter() - started:.1f} s", flush=True)
    labels = pd.read_csv(LABELS)
    rng = np.random.default_rng(0)
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp, redis_server(Path(tmp)) as redis_at:
        profiles = [("sqlite", "feature_store.yaml")]
        if redis_at is None:
            print("redis-server not installed: Redis rows skipped (Debian: redis-server)")
        else:
            os.environ["KFOPS_FEAST_REDIS"] = redis_at
            profiles.append(("redis", "feature_store.redis.yaml"))
        for name, profile in profiles:
            rows += measure(name, profile, Path(tmp) / name, args.lookups, rng, labels)

    width = max(len(r[0]) for r in rows)
    print()
    for label, first, second in rows:
        print(f"{label:<{width}}  {first:<24}  {second}")


if __name__ == "__main__":
    main()
