"""``kfops monitoring render``: the files with a user's thresholds, or one line and nothing
written for a bad settings file."""

from __future__ import annotations

from pathlib import Path

import yaml
from typer.testing import CliRunner

from kfops.cli.main import app
from tests.monitoring.conftest import run_promtool


def test_render_writes_rules_with_the_users_thresholds(tmp_path: Path, promtool: str) -> None:
    settings = tmp_path / "monitoring.yaml"
    settings.write_text("availability_slo: 0.995\nnamespace: observability\n")
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app, ["monitoring", "render", "--out", str(out), "--settings", str(settings)]
    )
    assert result.exit_code == 0, result.output
    assert "wrote 14 files" in result.output
    slo = (out / "rules" / "kfops-serving-slo.yaml").read_text()
    assert "ratio_rate1h > 14.4 * 0.005\n" in slo
    (rule,) = yaml.safe_load_all((out / "prometheusrule.yaml").read_text())
    assert rule["metadata"]["namespace"] == "observability"
    done = run_promtool(promtool, "check", "rules", *sorted((out / "rules").glob("*.yaml")))
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_bad_settings_file_is_one_line_and_writes_nothing(tmp_path: Path) -> None:
    settings = tmp_path / "monitoring.yaml"
    settings.write_text("latency_slo: 99\n")
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app, ["monitoring", "render", "--out", str(out), "--settings", str(settings)]
    )
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("kfops: error:")
    assert "latency_slo" in lines[0]
    assert not out.exists()
