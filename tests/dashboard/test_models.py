"""Registered versions read back from a real MLflow registry (sqlite on a temporary root):
aliases, the gate's decision and reason, metrics, the dataset's digest and source, and the
plots and statistics pages, downloadable only when a registered version's run logged them."""

from __future__ import annotations

from pathlib import Path

import pytest

from kfops.config import KfopsConfig
from kfops.dashboard.models import artifact_file, model_versions

MODEL = "churn-classifier"


@pytest.fixture
def registered(cfg: KfopsConfig, tmp_path: Path) -> dict[str, str]:
    """Two versions from two runs, as the pipeline's steps leave them (tags, aliases, files)."""
    from mlflow import MlflowClient

    uri = cfg.resolved_tracking_uri()
    cfg.state_dir.mkdir(parents=True, exist_ok=True)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    experiment = client.create_experiment("churn", artifact_location=str(tmp_path / "artifacts"))
    plot = tmp_path / "roc_curve.png"
    plot.write_bytes(b"\x89PNG\r\n\x1a\n")
    page = tmp_path / "statistics.html"
    page.write_text("<html>stats</html>")
    client.create_registered_model(MODEL)
    runs = {}
    for version, score in (("1", 0.5), ("2", 0.83)):
        run = client.create_run(experiment).info.run_id
        client.log_metric(run, "roc_auc", score)
        client.set_tag(run, "kfops.dataset.digest", "714a5e011aab1e9e" * 4)
        client.set_tag(run, "kfops.dataset.source", "data/churn.csv")
        client.log_artifact(run, str(plot), "plots")
        client.log_artifact(run, str(page), "statistics")
        client.log_artifact(run, str(page), "other")  # not a plot or statistics page
        mv = client.create_model_version(MODEL, f"runs:/{run}/model", run)
        assert str(mv.version) == version
        client.set_model_version_tag(MODEL, version, "kfops.promotion.decision", "promote")
        client.set_model_version_tag(MODEL, version, "kfops.promotion.reason", f"roc_auc {score}")
        runs[version] = run
    client.set_registered_model_alias(MODEL, "champion", "2")
    client.set_registered_model_alias(MODEL, "challenger", "2")
    return runs


def test_versions_carry_aliases_gate_metrics_dataset_and_artifacts(cfg, registered) -> None:
    models = model_versions(cfg)
    assert models["message"] == ""
    assert models["aliases"] == {"champion": "2", "challenger": "2"}
    newest, oldest = models["versions"]
    assert (newest["version"], newest["aliases"]) == ("2", ["challenger", "champion"])
    assert newest["gate"] == {"decision": "promote", "reason": "roc_auc 0.83"}
    assert newest["metrics"] == {"roc_auc": 0.83} and oldest["aliases"] == []
    assert newest["dataset"] == {"digest": "714a5e011aab1e9e" * 4, "source": "data/churn.csv"}
    assert newest["artifacts"] == ["plots/roc_curve.png", "statistics/statistics.html"]


def test_only_a_registered_runs_plots_and_statistics_are_served(cfg, registered, tmp_path) -> None:
    run = registered["2"]
    served = artifact_file(cfg, run, "statistics/statistics.html", tmp_path / "out")
    assert served is not None and served.read_text() == "<html>stats</html>"
    assert artifact_file(cfg, run, "other/statistics.html", tmp_path / "out2") is None
    assert artifact_file(cfg, "0" * 32, "plots/roc_curve.png", tmp_path / "out3") is None


def test_a_registry_without_the_model_says_so(cfg) -> None:
    from mlflow import MlflowClient

    cfg.state_dir.mkdir(parents=True)
    uri = cfg.resolved_tracking_uri()
    MlflowClient(tracking_uri=uri, registry_uri=uri).search_experiments()  # creates the store
    models = model_versions(cfg)
    assert models["versions"] == [] and f"no version of '{MODEL}'" in models["message"]
