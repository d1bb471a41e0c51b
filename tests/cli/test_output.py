"""What the commands print: JSON alone on stdout with --json, tables with whole values when
piped and no ellipsis-cut ids on a narrow terminal, --version and shell completion."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console
from rich.text import Text
from typer.testing import CliRunner

import kfops
from kfops.cli import common
from kfops.cli.data import COLUMNS, _short, history_rows
from kfops.cli.main import app
from kfops.cli.summary import render
from kfops.registry.lineage import (
    DIGEST_TAG,
    REVISION_TAG,
    ROWS_TAG,
    SCHEMA_TAG,
    SOURCE_TAG,
    ModelVersionRecord,
    RunRecord,
    group_dataset_versions,
)
from tests.support.kfp_api import API, KfpApiEmulator

KFOPS = str(Path(sys.executable).parent / "kfops")
CLUSTER_CONFIG = """\
project: churn
data: {path: 's3://bucket/churn.csv', target: churned}
tracking: {uri: 'http://mlflow.kubeflow:5000'}
"""
runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, list(args))


# -- --json: one document on stdout ----------------------------------------------------------


def test_compile_json(tmp_path: Path):
    config = tmp_path / "kfops.yaml"
    config.write_text(CLUSTER_CONFIG)
    result = invoke("compile", "-c", str(config), "-o", str(tmp_path / "out"), "--json")
    assert result.exit_code == 0, result.output
    written = json.loads(result.stdout)["files"]
    assert sorted(Path(p).name for p in written) == [
        "retraining-deploy.yaml",
        "retraining-tuned-deploy.yaml",
        "retraining-tuned.yaml",
        "retraining.yaml",
        "training-deploy.yaml",
        "training-tuned-deploy.yaml",
        "training-tuned.yaml",
        "training.yaml",
    ]
    assert all(Path(p).is_file() for p in written)
    check = invoke("compile", "-c", str(config), "-o", str(tmp_path / "out"), "--check", "--json")
    assert check.exit_code == 0, check.output
    assert json.loads(check.stdout) == {"folder": str(tmp_path / "out"), "current": True}


def test_submit_and_schedule_json(kfp_api: KfpApiEmulator, tmp_path: Path):
    config = tmp_path / "kfops.yaml"
    config.write_text(CLUSTER_CONFIG)
    submitted = invoke("submit", "-c", str(config), "--host", kfp_api.url, "--json")
    assert submitted.exit_code == 0, submitted.output
    run_id = json.loads(submitted.stdout)["run_id"]
    assert run_id.startswith("run-") and "Run details" in submitted.stderr  # kfp's links
    scheduled = invoke(
        "schedule", "-c", str(config), "--host", kfp_api.url, "--cron", "0 0 3 * * *", "--json"
    )
    assert scheduled.exit_code == 0, scheduled.output
    job = json.loads(scheduled.stdout)
    assert job["recurring_run_id"].startswith("rr-") and job["cron"] == "0 0 3 * * *"
    assert job["experiment"] == "churn" and job["host"] == kfp_api.url
    assert kfp_api.only("POST", f"{API}/recurringruns")


@pytest.mark.slow
def test_run_json_is_the_only_thing_on_stdout(tmp_path: Path, repo: Path):
    config = repo / "examples" / "churn" / "kfops.yaml"
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"}
    done = subprocess.run(
        [KFOPS, "run", "-c", str(config), "--set", f"runtime.root={tmp_path}", "--json"],
        capture_output=True, text=True, env=env, timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout)
    assert summary["version"] == "1" and summary["metrics"]["roc_auc"] > 0.7
    assert "✓ train" in done.stderr and "training" in done.stderr  # progress and header


# -- tables ----------------------------------------------------------------------------------

DIGEST = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
SCHEMA = "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752"
COMMIT = "2c26b46b68ffc68ff99b453c1d30413413422d70"


def datasets():
    tags = {DIGEST_TAG: DIGEST, ROWS_TAG: "300", SCHEMA_TAG: SCHEMA, SOURCE_TAG: "dvc://data/churn.csv",
            REVISION_TAG: COMMIT}  # fmt: skip
    runs = [RunRecord(f"{i}" * 32, 1735689600000 + i, tags) for i in (1, 2)]
    return group_dataset_versions(runs, [ModelVersionRecord("churn-model", "3", "1" * 32)])


def test_piped_history_is_tab_separated_with_whole_values(capsys):
    common.print_table("dataset versions", COLUMNS, history_rows(datasets()), right={"rows"})
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert lines[0].split("\t") == list(COLUMNS)
    row = lines[1].split("\t")
    assert len(lines) == 2 and len(row) == len(COLUMNS)
    assert row[:3] == [DIGEST, "300", SCHEMA] and row[4] == COMMIT
    assert row[7] == f"{'1' * 32},{'2' * 32}" and row[8] == "churn-model v3"
    assert "dataset versions" in captured.err and "…" not in captured.out


@pytest.mark.parametrize("width", [200, 60])
def test_terminal_history_never_cuts_ids(monkeypatch, width: int):
    """Wide: a table with 12-character ids; narrow: one block per dataset version."""
    out = io.StringIO()
    terminal = Console(file=out, force_terminal=True, width=width, highlight=False)
    monkeypatch.setattr(common, "console", terminal)
    rows = history_rows(datasets())
    common.print_table("dataset versions", COLUMNS, rows, right={"rows"}, short=_short)
    text = Text.from_ansi(out.getvalue()).plain
    assert "…" not in text
    for value in (DIGEST[:12], SCHEMA[:12], COMMIT[:12], "1" * 12, "2" * 12, "churn-model v3"):
        assert value in text, value
    assert ("┃ digest" in text) == (width == 200)
    if width == 60:
        assert f"digest: {DIGEST[:12]}\n" in text and "runs: 111111111111, 222222222222" in text


def test_piped_run_summary_keeps_ids_and_paths_on_one_line(capsys):
    artifact = "file:///" + "/".join(["very-long-folder-name"] * 8) + "/artifacts"
    render({
        "model": "churn-classifier", "version": "4", "aliases": {"champion": "4"},
        "decision": {"decision": "promote", "metric": "roc_auc", "reason": "first version"},
        "metrics": {"roc_auc": 0.91234, "accuracy": 0.8}, "run_id": "a" * 32,
        "tracking_uri": "sqlite:///" + "/x" * 40 + "/mlflow.db", "artifact_uri": artifact,
        "statistics_html": "", "log": "/tmp/" + "y" * 90 + ".log", "seconds": 12.5,
        "cached_steps": [],
    })  # fmt: skip
    out = capsys.readouterr().out
    assert "metric\tvalue" in out and "roc_auc *\t0.9123" in out and "accuracy\t0.8000" in out
    assert any(line.startswith("  MLflow run: " + "a" * 32) for line in out.splitlines())
    assert f"  artifacts: {artifact}\n" in out
    assert "  pipeline log: /tmp/" + "y" * 90 + ".log\n" in out


# -- version and completion ------------------------------------------------------------------


def test_version_flag_and_command():
    assert invoke("--version").stdout == f"{kfops.__version__}\n"
    assert invoke("version").stdout == f"{kfops.__version__}\n"


def test_shell_completion_is_offered():
    help_text = invoke("--help").stdout
    assert "--install-completion" in help_text and "--show-completion" in help_text
    env = {**os.environ, "_KFOPS_COMPLETE": "complete_bash", "COMP_WORDS": "kfops rollout pro",
           "COMP_CWORD": "2"}  # fmt: skip
    done = subprocess.run([KFOPS], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "promote" in done.stdout.split()


def test_step_times_line_up_under_the_longest_user_step_name() -> None:
    import io

    from rich.console import Console

    from kfops.cli.main import event_printer
    from kfops.runners.progress import StepEvent, StepStatus

    buffer = io.StringIO()
    print_event = event_printer(Console(file=buffer, width=120), ["drop-outliers"])
    for step in ("train", "drop-outliers", "evaluate"):
        print_event(StepEvent(step, StepStatus.SUCCEEDED, 1.25))
    lines = buffer.getvalue().splitlines()
    assert len(lines) == 3
    assert len({line.index("1.2 s") for line in lines}) == 1, lines
