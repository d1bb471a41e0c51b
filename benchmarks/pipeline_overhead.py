"""What the platform costs: `kfops run` cold and cached against one plain script.

All three are measured in this one run, as whole commands (interpreter start-up and
imports included), because the machine's speed drifts between runs.

    .venv/bin/python benchmarks/pipeline_overhead.py [--repeat 1]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "examples" / "churn" / "kfops.yaml"
DATA = REPO / "examples" / "churn" / "data" / "churn.csv"
BIN = Path(sys.executable).parent


def timed(cmd: list[str]) -> tuple[float, str]:
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "COLUMNS": "160"}
    started = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"benchmark: {' '.join(cmd[:3])} failed:\n{done.stdout}\n{done.stderr}")
    return elapsed, done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    rows: dict[str, list[float]] = {
        "plain script": [],
        "kfops run (cold)": [],
        "kfops run (cached)": [],
    }
    for _ in range(args.repeat):
        plain, out = timed(
            [
                sys.executable,
                str(REPO / "benchmarks" / "plain_training.py"),
                str(DATA),
                "churned",
                "customer_id",
                "event_timestamp",
            ]
        )
        rows["plain script"].append(plain)
        print(f"plain script: {plain:.1f} s ({out.strip()})", flush=True)
        with tempfile.TemporaryDirectory() as tmp:
            run = [
                str(BIN / "kfops"),
                "run",
                "--config",
                str(CONFIG),
                "--set",
                f"runtime.root={tmp}",
            ]
            cold, out = timed(run)
            rows["kfops run (cold)"].append(cold)
            print(f"kfops run (cold): {cold:.1f} s", flush=True)
            print("\n".join(line for line in out.splitlines() if line[:1] in "✓↺"), flush=True)
            cached, _ = timed(run)
            rows["kfops run (cached)"].append(cached)
            print(f"kfops run (cached): {cached:.1f} s", flush=True)
    base = min(rows["plain script"])
    print(f"\n| what | best of {args.repeat} (s) | ratio to plain script |")
    print("|---|---:|---:|")
    for name, values in rows.items():
        best = min(values)
        print(f"| {name} | {best:.1f} | {best / base:.1f}x |")


if __name__ == "__main__":
    main()
