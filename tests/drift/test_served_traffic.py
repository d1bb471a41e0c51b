"""Drift on traffic the real model server logged, against the statistics the real train
step stored with the version; TFDV runs in its runtime (about 20 s per check)."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.drift.conftest import MODEL_NAME, Trained, feature_rows, shifted_rows

pytestmark = pytest.mark.slow


def with_log(trained: Trained, log_dir: Path, **drift: Any) -> dict[str, Any]:
    config = copy.deepcopy(trained.config)
    config["serving"]["inference_log"]["path"] = str(log_dir)
    if drift:
        config["drift"] = drift
    return config


def distances(report: dict[str, Any], comparison: str) -> dict[str, float]:
    return {
        f["name"]: round(f["distance"], 4)
        for f in report["features"]
        if f["comparison"] == comparison
    }


def test_traffic_like_the_training_data_has_no_skew(trained, serve_traffic, tmp_path) -> None:
    from kfops.steps.drift import run_drift

    serve_traffic(tmp_path / "log", feature_rows())
    result = run_drift(with_log(trained, tmp_path / "log"), str(tmp_path / "out"), since="1h")
    print("unshifted skew", distances(result.report, "skew"))
    assert not result.drifted and result.drifted_features == ()
    assert result.version == trained.version and result.report["window"]["rows"] == 300
    skew = distances(result.report, "skew")
    assert set(skew) == {
        "tenure_months", "monthly_charges", "total_charges", "support_calls", "age",
        "num_products", "contract", "payment_method", "internet_service", "region",
    }  # fmt: skip
    assert max(skew.values()) < 0.1
    assert result.report["notes"] and "drift not measured" in result.report["notes"][0]
    page = Path(result.report_html).read_text()
    assert "no drift" in page and page.count("<svg") == 10


def test_shifted_traffic_drifts_naming_the_features(trained, serve_traffic, tmp_path) -> None:
    from kfops.steps.drift import run_drift

    textfile = tmp_path / "textfile" / "kfops_drift.prom"
    serve_traffic(tmp_path / "log", shifted_rows())
    config = with_log(trained, tmp_path / "log", textfile=str(textfile), features={"age": 0.5})
    result = run_drift(config, str(tmp_path / "out"), model_uri=f"models:/{MODEL_NAME}@champion")
    skew = distances(result.report, "skew")
    print("shifted skew", skew)
    assert result.drifted and result.drifted_features == ("contract", "monthly_charges")
    assert skew["monthly_charges"] > 0.5 and skew["contract"] > 0.5
    age = next(f for f in result.report["features"] if f["name"] == "age")
    assert age["threshold"] == 0.5 and not age["drifted"]

    from prometheus_client.parser import text_string_to_metric_families

    samples = {
        (s.name, s.labels["feature"], s.labels["comparison"]): s
        for family in text_string_to_metric_families(textfile.read_text())
        for s in family.samples
    }
    distance = samples[("kfops_feature_drift_distance", "monthly_charges", "skew")]
    assert distance.value == pytest.approx(skew["monthly_charges"], abs=1e-4)
    assert distance.labels == {
        "model": MODEL_NAME,
        "version": trained.version,
        "feature": "monthly_charges",
        "comparison": "skew",
    }
    assert samples[("kfops_feature_drift_threshold", "age", "skew")].value == 0.5
    page = Path(result.report_html).read_text()
    assert "DRIFTED: contract, monthly_charges" in page
    facets = Path(result.report_html).parent / "training_vs_served.html"
    assert facets.is_file() and 'href="training_vs_served.html"' in page


def log_rows(log_dir: Path, rows: list[dict[str, Any]], when: datetime) -> None:
    """Rows logged at ``when`` through the server's own Parquet writer, 50 per request."""
    from kfops.serving.inference_log import InferenceRecord, ParquetSink

    records = []
    for start in range(0, len(rows), 50):
        batch = rows[start : start + 50]
        records.append(
            InferenceRecord(
                time=when,
                request_id=f"r{start}",
                model=MODEL_NAME,
                version="1",
                variant="champion",
                protocol="v1",
                features={name: [row[name] for row in batch] for name in batch[0]},
                labels=[0] * len(batch),
            )
        )
    ParquetSink(log_dir).write(records)


def cli(trained: Trained, tmp_path: Path, *args: str):
    import yaml

    from tests.drift.test_inputs import drift_app

    config = tmp_path / "kfops.yaml"
    config.write_text(yaml.safe_dump(with_log(trained, tmp_path / "log")))
    return CliRunner().invoke(
        drift_app(), ["drift", "--config", str(config), "--out", str(tmp_path / "out"), *args]
    )


def test_shift_since_the_previous_window_is_drift_exit_20(trained, tmp_path) -> None:
    now = datetime.now(UTC)
    log_rows(tmp_path / "log", feature_rows(), now - timedelta(minutes=90))
    log_rows(tmp_path / "log", shifted_rows(), now - timedelta(minutes=20))
    result = cli(trained, tmp_path, "--since", "1h", "--json")
    assert result.exit_code == 20, result.output
    report = json.loads(result.stdout)
    assert report["drifted"] is True
    for feature in report["features"]:
        assert {"name", "distance", "threshold", "drifted"} <= set(feature)
    drift = distances(report, "drift")
    print("shifted drift", drift)
    drifted = {f["name"] for f in report["features"] if f["drifted"] and f["comparison"] == "drift"}
    assert drifted == {"monthly_charges", "contract"}
    assert report["window"]["rows"] == 300 and report["previous_window"]["rows"] == 300
    assert report["model"] == MODEL_NAME and report["version"] == trained.version


def test_the_same_traffic_in_both_windows_is_no_drift_exit_0(trained, tmp_path) -> None:
    now = datetime.now(UTC)
    rows = feature_rows()
    log_rows(tmp_path / "log", rows[::2] + rows[1::2], now - timedelta(minutes=90))
    log_rows(tmp_path / "log", rows[1::2] + rows[::2][:100], now - timedelta(minutes=20))
    result = cli(trained, tmp_path, "--since", "1h")
    assert result.exit_code == 0, result.output
    assert "no drift; report" in result.stdout and "DRIFTED" not in result.stdout
    report = json.loads((tmp_path / "out" / "drift.json").read_text())
    print("unshifted drift", distances(report, "drift"))
    assert not report["drifted"] and max(distances(report, "drift").values()) < 0.1


def test_a_column_the_model_does_not_know_is_one_line(trained, tmp_path) -> None:
    rows = [{**row, "favourite_colour": "green"} for row in feature_rows()[:40]]
    log_rows(tmp_path / "log", rows, datetime.now(UTC) - timedelta(minutes=5))
    result = cli(trained, tmp_path, "--since", "1h")
    assert result.exit_code == 3, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1
    assert f"inference log {tmp_path / 'log'}: column 'feature.favourite_colour'" in lines[0]
    assert f"is not a feature of {MODEL_NAME} version {trained.version}" in lines[0]
    assert not (tmp_path / "out" / "drift.json").exists()


def test_labels_that_came_back_score_the_served_version(trained, serve_traffic, tmp_path) -> None:
    """Concept drift: the true churn labels keep the live ROC AUC; inverted ones degrade it."""
    import pandas as pd

    from kfops.steps.drift import run_drift
    from tests.drift.conftest import CHURN_CSV

    serve_traffic(tmp_path / "log", feature_rows())
    truth = pd.read_csv(CHURN_CSV)["churned"]
    feedback = pd.DataFrame(
        {
            "request_id": [f"req-{i // 20 * 20}" for i in range(len(truth))],
            "row": [i % 20 for i in range(len(truth))],
            "label": truth,
        }
    )
    feedback.to_csv(tmp_path / "labels.csv", index=False)
    feedback.assign(label=1 - truth).to_csv(tmp_path / "inverted.csv", index=False)
    config = with_log(trained, tmp_path / "log")

    kept = run_drift(
        config, str(tmp_path / "kept"), since="1h", feedback=str(tmp_path / "labels.csv")
    )
    live = kept.report["performance"]
    print("live metric, true labels", live)
    assert [(p["version"], p["metric"], p["rows"]) for p in live] == [
        (trained.version, "roc_auc", 300)
    ]
    assert live[0]["registered"] == 0.8 and not live[0]["degraded"] and not kept.degraded

    inverted = run_drift(
        config, str(tmp_path / "inverted"), since="1h", feedback=str(tmp_path / "inverted.csv")
    )
    live = inverted.report["performance"]
    print("live metric, inverted labels", live)
    assert inverted.degraded and live[0]["degraded"] and live[0]["value"] < 0.5
    assert not inverted.drifted  # the inputs did not move: only the concept did
