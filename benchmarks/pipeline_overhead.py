"""What the platform costs: `kfops run` cold and cached against the plain scripts.

All are measured in this one run, as whole commands (interpreter start-up and imports
included), because the machine's speed drifts between runs. The goals (issue 15): a cold
run within 2x the plain script with MLflow logging and registration, a fully cached
re-run within 1.5 s. The per-step table comes from the run's own progress lines.

    .venv/bin/python benchmarks/pipeline_overhead.py [--repeat 1] [--fresh] [--late-tfdv]

--fresh also measures a cold run with every step a fresh interpreter (kfp.local's own
way, KFOPS_WARM_STEPS=0): the figures before the warm step server, in the same run.
--late-tfdv also measures a cold run whose validate starts the TFDV runtime itself
(KFOPS_WARM_TFDV=0): the figures before the runtime was started during ingest.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "examples" / "churn" / "kfops.yaml"
DATA = REPO / "examples" / "churn" / "data" / "churn.csv"
BIN = Path(sys.executable).parent
COLUMNS = ["churned", "customer_id", "event_timestamp"]
STEP_LINE = re.compile(r"^[✓↺✗] (\S+)\s+(?:([\d.]+) s)?\s*(\w*)")
COLD_GOAL, CACHED_GOAL_S = 2.0, 1.5


def snapshot(folder: Path) -> dict[str, str]:
    """The code as it is now, copied: an edit in the checkout during the benchmark (others
    work in it) would otherwise change the steps' code digests between the two runs."""
    ignore = shutil.ignore_patterns("compiled")
    for package in ("kfops", "components", "pipelines"):
        # Bytecode too (mtimes kept): PYTHONDONTWRITEBYTECODE would leave a copy uncompiled.
        shutil.copytree(REPO / package, folder / package, ignore=ignore)
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(folder)], check=True)
    shutil.copy(REPO / "uv.lock", folder / "uv.lock")
    (folder / "runtimes" / "tfdv").mkdir(parents=True)
    shutil.copy(REPO / "runtimes" / "tfdv" / "uv.lock", folder / "runtimes" / "tfdv" / "uv.lock")
    tfdv = os.environ.get("KFOPS_TFDV_PYTHON") or str(
        REPO / "runtimes" / "tfdv" / ".venv" / "bin" / "python"
    )
    return {"PYTHONPATH": str(folder), "KFOPS_TFDV_PYTHON": tfdv}


def timed(cmd: list[str], extra: dict[str, str] | None = None, cwd: Path | None = None):
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "COLUMNS": "160", **(extra or {})}
    started = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False, cwd=cwd)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"benchmark: {' '.join(cmd[:3])} failed:\n{done.stdout}\n{done.stderr}")
    return elapsed, done.stdout


def step_seconds(stdout: str) -> dict[str, str]:
    """Step -> its time, or ``cached``, from ``kfops run``'s progress lines."""
    steps = {}
    for line in stdout.splitlines():
        match = STEP_LINE.match(line)
        if match:
            name, seconds, note = match.groups()
            steps[name] = note if note == "cached" else f"{float(seconds):.1f}"
    return steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--fresh", action="store_true", help="also: steps as fresh interpreters")
    parser.add_argument(
        "--late-tfdv", action="store_true", help="also: validate starts the TFDV runtime itself"
    )
    args = parser.parse_args()
    variants = {
        "fresh interpreters": {"KFOPS_WARM_STEPS": "0"} if args.fresh else None,
        "TFDV started by validate": {"KFOPS_WARM_TFDV": "0"} if args.late_tfdv else None,
    }
    variants = {name: env for name, env in variants.items() if env is not None}
    rows: dict[str, list[float]] = {
        "plain script": [],
        "plain script + MLflow log and register": [],
        "kfops run (cold)": [],
        "kfops run (cached)": [],
        "kfops run (cached, no run memo)": [],
    }
    for name in variants:
        rows[f"kfops run (cold, {name})"] = []
    steps: list[dict[str, str]] = []
    variant_steps: dict[str, list[dict[str, str]]] = {name: [] for name in variants}
    for _ in range(args.repeat):
        plain, out = timed(
            [sys.executable, str(REPO / "benchmarks" / "plain_training.py"), str(DATA), *COLUMNS]
        )
        rows["plain script"].append(plain)
        print(f"plain script: {plain:.1f} s ({out.strip()})", flush=True)
        with tempfile.TemporaryDirectory() as tmp:
            script = REPO / "benchmarks" / "plain_training_mlflow.py"
            tracked, out = timed(
                [sys.executable, str(script), str(DATA), COLUMNS[0], tmp, *COLUMNS[1:]]
            )
            rows["plain script + MLflow log and register"].append(tracked)
            print(f"plain script + MLflow: {tracked:.1f} s ({out.strip()})", flush=True)
        with tempfile.TemporaryDirectory() as tmp:
            code = snapshot(Path(tmp) / "src")
            run = [
                str(BIN / "kfops"),
                "run",
                "--config",
                str(CONFIG),
                "--set",
                f"runtime.root={tmp}/state",
            ]
            # cwd: a step's ``python -m`` puts its folder first on sys.path, not the checkout.
            cold, out = timed(run, code, Path(tmp))
            rows["kfops run (cold)"].append(cold)
            steps.append(step_seconds(out))
            print(f"kfops run (cold): {cold:.1f} s", flush=True)
            cached, out = timed(run, code, Path(tmp))
            rows["kfops run (cached)"].append(cached)
            print(f"kfops run (cached): {cached:.1f} s", flush=True)
            if set(step_seconds(out).values()) != {"cached"}:
                print(f"  (not every step was cached: {step_seconds(out)})", flush=True)
            # The same, with kfp.local asked for each step instead of the run memo.
            asked, _ = timed(run, {**code, "KFOPS_RUN_MEMO": "0"}, Path(tmp))
            rows["kfops run (cached, no run memo)"].append(asked)
            print(f"kfops run (cached, no run memo): {asked:.1f} s", flush=True)
        for name, environment in variants.items():
            with tempfile.TemporaryDirectory() as tmp:
                code = {**snapshot(Path(tmp) / "src"), **environment}
                run = [*run[:-1], f"runtime.root={tmp}/state"]
                seconds, out = timed(run, code, Path(tmp))
                rows[f"kfops run (cold, {name})"].append(seconds)
                variant_steps[name].append(step_seconds(out))
                print(f"kfops run (cold, {name}): {seconds:.1f} s", flush=True)
    base = min(rows["plain script + MLflow log and register"])
    print(f"\n| what | best of {args.repeat} (s) | ratio to plain script + MLflow |")
    print("|---|---:|---:|")
    for name, values in rows.items():
        best = min(values)
        print(f"| {name} | {best:.1f} | {best / base:.2f}x |")
    cold, cached = min(rows["kfops run (cold)"]), min(rows["kfops run (cached)"])
    print(
        f"\ncold / (plain + MLflow): {cold / base:.2f}x (goal <= {COLD_GOAL}x): "
        f"{'met' if cold / base <= COLD_GOAL else 'not met'}"
    )
    print(
        f"cached: {cached:.2f} s (goal <= {CACHED_GOAL_S} s): "
        f"{'met' if cached <= CACHED_GOAL_S else 'not met'}"
    )
    columns = [(f"run {i + 1}", s) for i, s in enumerate(steps)]
    for name, found in variant_steps.items():
        columns += [(f"run {i + 1}, {name}", s) for i, s in enumerate(found)]
    print("\n| step (cold) | " + " | ".join(f"{title} (s)" for title, _ in columns) + " |")
    print("|---|" + "---:|" * len(columns))
    for name in steps[0] if steps else []:
        print(f"| {name} | " + " | ".join(s.get(name, "") for _, s in columns) + " |")


if __name__ == "__main__":
    main()
