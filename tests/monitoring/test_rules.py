"""The alerting and recording rules: valid for Prometheus, every alert fires in one
promtool unit test and stays quiet in another, and the settings change what they say."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from kfops.errors import ConfigurationError
from kfops.monitoring.render import files
from kfops.monitoring.rules import (
    MonitoringSettings,
    alert_names,
    load_settings,
    recorded_names,
    rule_groups,
)
from tests.monitoring.conftest import MONITORING, PROMTOOL_TESTS, run_promtool

ALERTS = {
    "KfopsAvailabilityBudgetBurn", "KfopsAvailabilityBudgetBurnSlow",
    "KfopsLatencyBudgetBurn", "KfopsLatencyBudgetBurnSlow", "KfopsModelServerDown",
    "KfopsVariantErrorRateHigh", "KfopsFeatureDrift", "KfopsModelStale",
    "KfopsPipelineRunFailed", "KfopsRolloutAborted", "KfopsRolloutOperatorDown",
    "KfopsModelLiveMetricDegraded",
}  # fmt: skip


def test_the_rules_cover_what_the_issue_asks_for() -> None:
    assert set(alert_names(rule_groups())) == ALERTS
    for rule in (r for g in rule_groups() for r in g["rules"] if "alert" in r):
        assert rule["labels"]["severity"] in {"critical", "warning"}
        assert set(rule["annotations"]) == {"summary", "description", "runbook"}


def test_promtool_accepts_every_rule_file(promtool: str) -> None:
    rule_files = sorted((MONITORING / "rules").glob("*.yaml"))
    assert len(rule_files) == len(rule_groups())
    done = run_promtool(promtool, "check", "rules", *rule_files)
    assert done.returncode == 0, done.stdout + done.stderr


def test_promtool_unit_tests_pass(promtool: str) -> None:
    tests = sorted(PROMTOOL_TESTS.glob("*.test.yaml"))
    done = run_promtool(promtool, "test", "rules", *tests)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("SUCCESS") == len(tests), done.stdout


def _cases() -> tuple[set[str], set[str]]:
    """Alert names with an expected firing alert, and with an expected silence."""
    fires, quiet = set(), set()
    for path in PROMTOOL_TESTS.glob("*.test.yaml"):
        for test in yaml.safe_load(path.read_text())["tests"]:
            for case in test.get("alert_rule_test") or []:
                (fires if case.get("exp_alerts") else quiet).add(case["alertname"])
    return fires, quiet


def test_every_alert_has_a_case_that_fires_and_one_that_stays_quiet() -> None:
    fires, quiet = _cases()
    assert fires == ALERTS
    assert quiet == ALERTS


def test_the_unit_tests_load_only_the_committed_rule_files() -> None:
    for path in PROMTOOL_TESTS.glob("*.test.yaml"):
        for rule_file in yaml.safe_load(path.read_text())["rule_files"]:
            resolved = (path.parent / rule_file).resolve()
            assert resolved.parent == MONITORING / "rules" and resolved.is_file(), rule_file


def test_settings_change_the_targets_and_still_make_valid_rules(
    promtool: str, tmp_path: Path
) -> None:
    settings = MonitoringSettings(
        availability_slo=0.99, latency_threshold_seconds=0.1, variant_error_ratio=0.2,
        max_model_age_days=7, server_job="kfops-serving",
    )  # fmt: skip
    rendered = files(settings)
    slo = rendered["rules/kfops-serving-slo.yaml"]
    assert "ratio_rate1h > 14.4 * 0.01\n" in slo
    assert 'le="0.1"' in slo and 'up{job="kfops-serving"} == 0' in slo
    assert "ratio_rate5m > 0.2\n" in rendered["rules/kfops-serving-variants.yaml"]
    assert "> 604800" in rendered["rules/kfops-models.yaml"]
    for name, text in rendered.items():
        if name.startswith("rules/"):
            (tmp_path / Path(name).name).write_text(text)
    done = run_promtool(promtool, "check", "rules", *sorted(tmp_path.glob("*.yaml")))
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_latency_threshold_must_be_a_histogram_bucket(tmp_path: Path) -> None:
    path = tmp_path / "monitoring.yaml"
    path.write_text("latency_threshold_seconds: 0.3\n")
    with pytest.raises(ConfigurationError) as caught:
        load_settings(path)
    message = caught.value.message
    assert "latency_threshold_seconds" in message and "0.25" in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("availability_slo: 1.5\n", "availability_slo"),
        ("drift_for: soon\n", "drift_for"),
        ("availabilty_slo: 0.99\n", "availabilty_slo"),
        ("- 1\n", "expected a mapping"),
    ],
)
def test_bad_settings_are_one_line_naming_the_key(tmp_path: Path, text: str, key: str) -> None:
    path = tmp_path / "monitoring.yaml"
    path.write_text(text)
    with pytest.raises(ConfigurationError) as caught:
        load_settings(path)
    assert key in caught.value.message and str(path) in caught.value.message
    assert "\n" not in caught.value.message


def test_recording_rules_follow_the_level_metric_operations_convention() -> None:
    for name in recorded_names(rule_groups()):
        level, metric, operations = name.split(":")
        assert level == "kfops" and metric and operations
