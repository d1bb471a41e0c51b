"""The summary's rows read straight from the local sqlite store equal what MLflow's own
client reads from it (a real registry on a temporary root); any other store, or a row
that is not there, is left to MLflow."""

from __future__ import annotations

import math
import sqlite3
from pathlib import Path

import pytest

from kfops.cli.summary import _latest_through_mlflow, _read_through_mlflow
from kfops.config import KfopsConfig
from kfops.runners.read_back import local_store, read_latest, read_run

MODEL = "churn-classifier"


@pytest.fixture
def cfg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> KfopsConfig:
    for name in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", "MLFLOW_WORKSPACE"):
        monkeypatch.setenv(name, "")  # so that teardown restores it, as use_tracking sets it
        monkeypatch.delenv(name)
    return KfopsConfig(
        project="churn",
        data={"path": str(tmp_path / "churn.csv"), "target": "churned"},
        runtime={"root": str(tmp_path / "state")},
        registry={"model_name": MODEL},
    )


@pytest.fixture
def runs(cfg: KfopsConfig, tmp_path: Path) -> list[str]:
    """Three runs: two registered (with the gate's tags, one a NaN metric), one deleted
    version, aliases on the second."""
    from mlflow import MlflowClient

    uri = cfg.resolved_tracking_uri()
    cfg.state_dir.mkdir(parents=True, exist_ok=True)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    experiment = client.create_experiment("churn", (tmp_path / "artifacts").as_uri())
    client.create_registered_model(MODEL)
    ids = []
    for score in (0.5, 0.83, 0.9):
        run = client.create_run(experiment).info.run_id
        client.log_metric(run, "roc_auc", score)
        client.log_metric(run, "roc_auc", score + 0.01, step=1)  # the latest value counts
        client.log_metric(run, "log_loss", math.nan if score == 0.5 else 0.4)
        version = client.create_model_version(MODEL, f"runs:/{run}/model", run).version
        client.set_model_version_tag(MODEL, version, "kfops.promotion.decision", "promote")
        client.set_model_version_tag(MODEL, version, "kfops.promotion.reason", f"{score}")
        client.set_model_version_tag(MODEL, version, "kfops.metric.roc_auc", f"{score}")
        ids.append(run)
    client.set_registered_model_alias(MODEL, "champion", "2")
    client.set_registered_model_alias(MODEL, "challenger", "2")
    client.delete_model_version(MODEL, "3")
    return ids


def _same(fast, slow) -> None:
    assert fast.version == slow.version
    assert fast.decision == slow.decision
    assert fast.aliases == slow.aliases
    if hasattr(slow, "metrics"):
        assert fast.artifact_uri == slow.artifact_uri
        assert fast.metrics.keys() == slow.metrics.keys()
        for key, value in slow.metrics.items():
            assert fast.metrics[key] == value or (
                math.isnan(value) and math.isnan(fast.metrics[key])
            )


def test_the_local_store_reads_as_mlflow_reads_it(cfg: KfopsConfig, runs: list[str]) -> None:
    for run in runs[:2]:
        fast = read_run(cfg, run)
        assert fast is not None
        _same(fast, _read_through_mlflow(cfg, run))
    assert read_run(cfg, runs[0]).decision == {"decision": "promote", "reason": "0.5"}
    latest = read_latest(cfg)
    assert latest is not None and latest.version == "2"  # version 3 was deleted
    _same(latest, _latest_through_mlflow(cfg))


def test_what_it_cannot_answer_is_left_to_mlflow(cfg: KfopsConfig, runs: list[str]) -> None:
    assert read_run(cfg, "") is None
    assert read_run(cfg, "0" * 32) is None  # MLflow reports the missing run
    assert read_run(cfg, runs[2]) is None  # its only version is deleted
    store = local_store(cfg)
    assert store is not None
    with sqlite3.connect(store) as db:
        db.execute("UPDATE alembic_version SET version_num = 'another'")
    assert read_run(cfg, runs[0]) is None


def test_another_store_is_read_through_mlflow(
    cfg: KfopsConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert local_store(cfg) == cfg.state_dir.resolve() / "mlflow.db"
    assert read_latest(cfg) is None  # no store yet: none is created
    assert not (cfg.state_dir / "mlflow.db").exists()
    monkeypatch.setenv("MLFLOW_WORKSPACE", "team-a")
    assert local_store(cfg) is None
    monkeypatch.delenv("MLFLOW_WORKSPACE")
    server = cfg.model_copy(
        update={"tracking": cfg.tracking.model_copy(update={"uri": "http://127.0.0.1:5000"})}
    )
    assert local_store(server) is None
