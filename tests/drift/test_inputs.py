"""Bad input to ``kfops drift`` fails with one line naming the file or key, before any
registry or TFDV work; plus the pieces that need neither (windows, distances, gauges,
the page, the component)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import typer
import yaml
from typer.testing import CliRunner

from kfops.config import KfopsConfig
from kfops.config.drift import DriftConfig
from kfops.drift.check import DriftReport, FeatureDrift
from kfops.drift.tfdv_worker import jensen_shannon
from kfops.drift.window import Window, parse_since
from kfops.errors import ConfigurationError
from kfops.serving.inference_log import InferenceRecord, ParquetSink
from kfops.steps.drift import DRIFT_EXIT_CODE
from tests.drift.conftest import CHURN_CSV, MODEL_NAME

NOW = datetime.now(UTC)


def drift_app() -> typer.Typer:
    """A Typer app with only ``drift``, registered as kfops.cli.main registers it."""
    from kfops.cli import drift as drift_cli

    app = typer.Typer()
    drift_cli.register(app)

    @app.callback()
    def _root() -> None:
        """Keep ``drift`` a sub-command."""

    return app


def write_config(tmp_path: Path, **drift: object) -> Path:
    config = {
        "project": "drift-test",
        "data": {"path": str(CHURN_CSV), "target": "churned"},
        "runtime": {"root": str(tmp_path / "state")},
        "serving": {"inference_log": {"path": "log"}},  # relative to the file, as serve reads it
    }
    if drift:
        config["drift"] = drift
    path = tmp_path / "kfops.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def log_records(log_dir: Path, when: datetime, rows: int = 4, extra: bool = False) -> None:
    """Records written by the server's own Parquet writer, at ``when``."""
    features = {"age": [30 + i for i in range(rows)], "contract": ["one-year"] * rows}
    if extra:
        features["favourite_colour"] = ["green"] * rows
    record = InferenceRecord(
        time=when,
        request_id="r1",
        model=MODEL_NAME,
        version="1",
        variant="champion",
        protocol="v1",
        features=features,
        labels=[0] * rows,
    )
    ParquetSink(log_dir).write([record])


def run(config: Path, *args: str):
    return CliRunner().invoke(drift_app(), ["drift", "--config", str(config), *args])


def error_line(result) -> str:
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    return lines[0]


def test_no_inference_log_names_the_folder_and_the_fix(tmp_path: Path) -> None:
    result = run(write_config(tmp_path))
    assert result.exit_code == 3
    line = error_line(result)
    assert f"no inference log at {tmp_path / 'log'}" in line
    assert "serving.inference_log.sample_rate" in line


def test_a_log_without_the_model_names_the_models_it_has(tmp_path: Path) -> None:
    log_records(tmp_path / "log", NOW)
    result = run(write_config(tmp_path), "--model", "models:/other@champion")
    assert result.exit_code == 3
    assert f"has no requests of model 'other' (it holds {MODEL_NAME}; pass --model)" in (
        error_line(result)
    )


def test_an_empty_window_says_when_the_log_has_requests(tmp_path: Path) -> None:
    log_records(tmp_path / "log", datetime(2025, 6, 1, 12, 0, tzinfo=UTC))
    result = run(write_config(tmp_path), "--since", "2h")
    assert result.exit_code == 3
    line = error_line(result)
    assert f"no requests of model '{MODEL_NAME}' between" in line
    assert "the log has requests from 2025-06-01T12:00:00Z to 2025-06-01T12:00:00Z" in line
    assert "pass a longer --since" in line
    assert not (tmp_path / "state" / "drift").exists()  # nothing half-written


@pytest.mark.parametrize(
    ("drift", "key"),
    [
        ({"threshold": 0}, "drift.threshold"),
        ({"threshold": 1.5}, "drift.threshold"),
        ({"features": {"age": -0.1}}, "drift.features.age"),
        ({"window": "yesterday"}, "drift.window"),
    ],
)
def test_a_bad_setting_is_one_line_naming_the_key(tmp_path: Path, drift, key) -> None:
    result = run(write_config(tmp_path, **drift))
    assert result.exit_code == 2
    assert f"'{key}'" in error_line(result)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--since", "last week"], "--since 'last week': neither a duration"),
        (["--since", "2999-01-01"], "is not in the past"),
        (["--model", "runs:/abc/model"], "--model 'runs:/abc/model': not a registry model"),
    ],
)
def test_bad_flags_are_one_line(tmp_path: Path, args: list[str], words: str) -> None:
    log_records(tmp_path / "log", NOW)
    result = run(write_config(tmp_path), *args)
    assert result.exit_code == 2
    assert words in error_line(result)


def test_drift_exit_code_is_none_of_the_error_codes() -> None:
    from kfops.errors import ERROR_TYPES

    assert DRIFT_EXIT_CODE not in {cls.exit_code for cls in ERROR_TYPES.values()}


def test_thresholds_default_and_per_feature() -> None:
    settings = DriftConfig(threshold=0.2, features={"age": 0.05})
    assert settings.threshold_for("age") == 0.05 and settings.threshold_for("region") == 0.2
    assert KfopsConfig(project="p", data={"path": "d.csv", "target": "y"}).drift is None


def test_since_is_a_duration_or_a_timestamp() -> None:
    now = datetime(2025, 6, 2, 12, 0, tzinfo=UTC)
    assert parse_since("90m", now) == Window(now - timedelta(minutes=90), now)
    assert parse_since("2025-06-01T12:00:00Z", now).start == datetime(2025, 6, 1, 12, tzinfo=UTC)
    assert parse_since("2025-06-01T12:00", now).start.tzinfo == UTC
    # The log's date folders are UTC days: an offset is turned into UTC, not kept.
    assert parse_since("2025-06-02T01:00+02:00", now).start == datetime(2025, 6, 1, 23, tzinfo=UTC)
    assert parse_since("2025-06-02T01:00+02:00", now).start.tzinfo == UTC
    assert parse_since("1d", now).before() == Window(
        now - timedelta(days=2), now - timedelta(days=1)
    )
    with pytest.raises(ConfigurationError):
        parse_since("0h", now)


def test_jensen_shannon_of_integer_counts() -> None:
    assert jensen_shannon({0: 5, 1: 5}, {0: 10, 1: 10}) == 0.0
    assert jensen_shannon({0: 5}, {1: 5}) == 1.0  # disjoint: the maximum in base 2
    assert jensen_shannon({0: 1, 1: 1}, {0: 1}) == pytest.approx(0.3113, abs=1e-4)


def sample_report() -> DriftReport:
    window = Window(NOW - timedelta(hours=1), NOW)
    return DriftReport(
        model=MODEL_NAME,
        version="3",
        window=window,
        previous_window=window.before(),
        rows=300,
        previous_rows=0,
        features=(
            FeatureDrift("age", "skew", "numeric", 0.01, 0.1),
            FeatureDrift("contract", "skew", "categorical", 0.55, 0.1),
            FeatureDrift("support_calls", "skew", "discrete", 0.002, 0.1, 0.2),
        ),
    )


def test_json_shape_and_verdict() -> None:
    data = sample_report().to_dict()
    assert data["drifted"] is True
    assert [f["name"] for f in data["features"] if f["drifted"]] == ["contract"]
    for feature in data["features"]:
        assert {"name", "distance", "threshold", "drifted"} <= set(feature)
        assert isinstance(feature["drifted"], bool) and isinstance(feature["distance"], float)
    assert data["features"][2]["tfdv_distance"] == 0.2


def test_page_has_a_chart_per_feature(tmp_path: Path) -> None:
    from kfops.drift.report import write_reports

    data, page = write_reports(sample_report(), tmp_path)
    html = page.read_text()
    assert html.count("<svg") == 3 and "DRIFTED: contract" in html
    assert html.index("contract") < html.index("support_calls")  # drifted features first
    assert '"drifted": true' in data.read_text()


def test_gauges_textfile_has_a_distance_and_threshold_per_feature(tmp_path: Path) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    from kfops.drift.gauges import write_textfile
    from kfops.series import FEATURE_DRIFT_DISTANCE, FEATURE_DRIFT_THRESHOLD

    path = tmp_path / "node-exporter" / "kfops_drift.prom"
    write_textfile(sample_report(), path)
    samples = [s for f in text_string_to_metric_families(path.read_text()) for s in f.samples]
    assert {s.name for s in samples} == {FEATURE_DRIFT_DISTANCE.name, FEATURE_DRIFT_THRESHOLD.name}
    contract = [s for s in samples if s.labels["feature"] == "contract"]
    assert {(s.name, s.value) for s in contract} == {
        (FEATURE_DRIFT_DISTANCE.name, 0.55),
        (FEATURE_DRIFT_THRESHOLD.name, 0.1),
    }
    assert set(contract[0].labels) == set(FEATURE_DRIFT_DISTANCE.labels)


def test_the_component_outputs_drifted_as_a_bool() -> None:
    from components.drift.component import build

    spec = build("kfops:test").component_spec
    assert spec.outputs["Output"].type == "Boolean"  # retrain, for the pipeline's dsl.If
    assert set(spec.outputs) == {"Output", "report", "details"}
    assert set(spec.inputs) == {"config", "model_uri", "since", "feedback", "force"}
    assert all(spec.inputs[name].default == "" for name in ("model_uri", "since", "feedback"))
    assert spec.inputs["force"].default is False


def test_statistics_artifact_matches_the_train_step() -> None:
    from kfops.drift.reference import STATISTICS_ARTIFACT, TRAINING_SCHEMA, TRAINING_STATS
    from kfops.steps.train import STATISTICS_ARTIFACT as TRAIN_STATISTICS
    from kfops.validation.tfdv_worker import SCHEMA_COPY, STATS_FILE

    assert STATISTICS_ARTIFACT == TRAIN_STATISTICS
    assert STATS_FILE.format(split="train") == TRAINING_STATS and TRAINING_SCHEMA == SCHEMA_COPY


def test_gauges_are_pushed_to_the_gateway_grouped_by_model() -> None:
    """A Pushgateway stand-in on 127.0.0.1 records the PUT of the text exposition."""
    from prometheus_client.parser import text_string_to_metric_families

    from kfops.drift.gauges import push
    from tests.support.http_server import json_server

    seen = []

    def respond(request):
        seen.append(request)
        return 200, {}

    with json_server(respond) as url:
        push(sample_report(), url)
    assert [(r.method, r.path) for r in seen] == [
        ("PUT", f"/metrics/job/kfops-drift/model/{MODEL_NAME}")
    ]
    families = text_string_to_metric_families(seen[0].raw_body.decode())
    values = {(s.name, s.labels["feature"]): s.value for f in families for s in f.samples}
    assert values[("kfops_feature_drift_distance", "contract")] == 0.55


def test_an_unreachable_gateway_is_one_line_naming_the_key() -> None:
    from kfops.drift.gauges import push

    with pytest.raises(
        ConfigurationError, match=r"^drift.pushgateway http://127.0.0.1:9: push failed"
    ):
        push(sample_report(), "http://127.0.0.1:9")
