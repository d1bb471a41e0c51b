"""The gauges ``kfops drift`` writes make the project's KfopsFeatureDrift alert fire for the
drifted feature only: the textfile's samples, read back, as promtool's input series."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.drift.test_inputs import sample_report

REPO = Path(__file__).resolve().parents[2]
DRIFT_RULES = REPO / "manifests" / "monitoring" / "rules" / "kfops-drift.yaml"


def test_the_textfile_gauges_fire_the_drift_alert_for_the_drifted_feature(tmp_path) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool not installed (Debian package prometheus; scripts/setup.sh)")
    from prometheus_client.parser import text_string_to_metric_families

    from kfops.drift.gauges import write_textfile

    textfile = tmp_path / "kfops_drift.prom"
    write_textfile(sample_report(), textfile)
    series = [
        {
            "series": sample.name
            + "{"
            + ", ".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            + "}",
            "values": f"{sample.value} {sample.value}",
        }
        for family in text_string_to_metric_families(textfile.read_text())
        for sample in family.samples
    ]
    model = sample_report().model
    case = {
        "rule_files": [str(DRIFT_RULES)],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": series,
                "alert_rule_test": [
                    {
                        "eval_time": "1m",
                        "alertname": "KfopsFeatureDrift",
                        "exp_alerts": [
                            {
                                "exp_labels": {
                                    "severity": "warning",
                                    "model": model,
                                    "version": "3",
                                    "feature": "contract",
                                    "comparison": "skew",
                                },
                                "exp_annotations": {
                                    "summary": f"Feature contract of {model} drifted",
                                    "description": f"The served values of contract (model "
                                    f"{model}, version 3) are 0.550 away from their training "
                                    "statistics, above the feature's threshold.",
                                    "runbook": "docs/monitoring.md#kfopsfeaturedrift",
                                },
                            }
                        ],
                    }
                ],
            }
        ],
    }
    test_file = tmp_path / "drift.test.yaml"
    test_file.write_text(yaml.safe_dump(case))
    done = subprocess.run(
        [promtool, "test", "rules", str(test_file)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
