"""The held-apart example project (tests/user_project) through ``kfops run`` and ``kfops serve``.

Its own transformer (``acme_ml.transformers.RatioFeature``) sits inside the model, its own
steps run after features (drop outliers from the training split) and after evaluate (a
metric before the gate). One run per task on a copy of the project; the regression copy
is then edited and run again, and its champion served by ``kfops serve`` from a folder
where the project's package cannot be imported.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pandas as pd
import pytest

from tests.e2e.conftest import kfops, registry
from tests.support.processes import answers, stop_process, wait_until

pytestmark = pytest.mark.slow

PROJECT = Path(__file__).resolve().parents[1] / "user_project"
REPO = PROJECT.parents[1]
BUILT_IN = ["ingest", "features", "validate", "train", "evaluate", "register", "promote"]
AFTER_THE_STEP = ["drop-outliers", "validate", "train", "evaluate", "prediction-mean", "register"]


def project_copy(tmp_path: Path) -> Path:
    target = tmp_path / "project"
    shutil.copytree(PROJECT, target, ignore=shutil.ignore_patterns("__pycache__", ".kfops"))
    return target


def run(project: Path, config: str, data: str) -> object:
    return kfops("run", "--config", str(project / config), "--set", f"data.path={data}")


def check_run(project: Path, result, model: str) -> object:
    """The run registered version 1 with the user's metric; its run, for more checks."""
    assert result.code == 0, result.output
    for step in [*BUILT_IN, "drop-outliers", "prediction-mean"]:
        assert f"✓ {step}" in result.stdout, step
    client = registry(project / ".kfops")
    version = client.get_model_version(model, "1")
    run = client.get_run(version.run_id)
    assert "prediction_mean" in run.data.metrics, "the after-evaluate step's metric is logged"
    return run


def model_steps(project: Path, model: str) -> list[str]:
    import mlflow

    uri = f"sqlite:///{project / '.kfops' / 'mlflow.db'}"
    # MLflow keeps its URIs in the environment: restored as they were (unset stays unset),
    # or a later ``kfops serve`` would be sent to the working folder's store.
    saved = {name: os.environ.get(name) for name in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}
    mlflow.set_tracking_uri(uri)  # both: a default store would land in the working folder
    mlflow.set_registry_uri(uri)
    try:
        loaded = mlflow.sklearn.load_model(f"models:/{model}@champion")
    finally:
        for name, value in saved.items():
            os.environ.pop(name, None) if value is None else os.environ.update({name: value})
        mlflow.set_tracking_uri(saved["MLFLOW_TRACKING_URI"])
        mlflow.set_registry_uri(saved["MLFLOW_REGISTRY_URI"])
    inner = [getattr(step, "transformer_", step) for _, step in loaded.steps]
    return [type(step).__name__ for step in inner], loaded


@pytest.fixture(scope="module")
def housing(tmp_path_factory) -> tuple[Path, object, object]:
    """The regression project run, then run again after an edit of its step's code."""
    project = project_copy(tmp_path_factory.mktemp("housing"))
    data = str(REPO / "examples" / "housing" / "data" / "housing.parquet")
    first = run(project, "kfops.housing.yaml", data)
    steps = project / "acme_ml" / "steps" / "drop_outliers.py"
    steps.write_text(steps.read_text().replace("<= upper", "< upper"))
    edited = run(project, "kfops.housing.yaml", data)
    return project, first, edited


def test_classification_runs_the_users_transformer_and_steps(tmp_path: Path) -> None:
    project = project_copy(tmp_path)
    result = run(project, "kfops.yaml", str(REPO / "examples" / "churn" / "data" / "churn.csv"))
    run_info = check_run(project, result, "acme-churn")
    assert run_info.data.metrics["roc_auc"] > 0.7
    names, _ = model_steps(project, "acme-churn")
    assert names[:2] == ["RawColumns", "RatioFeature"]
    trained = next((project / ".kfops" / "pipeline_root").glob("**/drop-outliers/train_set"))
    assert pd.read_parquet(trained)["monthly_charges"].max() <= 110.0, "train saw the step's rows"


def test_regression_runs_the_users_transformer_and_steps(housing) -> None:
    project, first, _ = housing
    check_run(project, first, "acme-housing")
    names, _ = model_steps(project, "acme-housing")
    assert names[:2] == ["RawColumns", "RatioFeature"]


def test_an_edit_of_the_step_reruns_it_and_the_steps_after_it_only(housing) -> None:
    _, _, edited = housing
    assert edited.code == 0, edited.output
    assert "cached: ingest, features" in edited.stdout
    for step in AFTER_THE_STEP:
        assert f"✓ {step}" in edited.stdout, step


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_served_model_applies_the_users_transformer(housing, tmp_path: Path) -> None:
    """``kfops serve`` runs where ``acme_ml`` is not importable: the model carries its code."""
    project, _, _ = housing
    _, model = model_steps(project, "acme-housing")
    rows = pd.read_parquet(REPO / "examples" / "housing" / "data" / "housing.parquet")
    rows = rows.drop(columns=["price"]).dropna().head(4)
    expected = model.predict(rows).tolist()
    ratio = model[:2].transform(rows)["sqft_per_bedroom"]
    assert ratio.notna().all(), "the rows exercise the transformer"
    port = free_port()
    config = project / "kfops.housing.yaml"
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "PYTHONPATH": ""}
    command = [str(Path(sys.executable).with_name("kfops")), "serve", "--config", str(config)]
    command += ["--port", str(port)]
    process = subprocess.Popen(
        command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(
            lambda: process.poll() is not None or answers(f"{url}/v2/health/ready"),
            120,
            "kfops serve ready",
        )
        assert process.poll() is None, process.stdout.read()
        instances = json.loads(rows.to_json(orient="records"))
        answer = httpx.post(
            f"{url}/v1/models/acme-housing:predict", json={"instances": instances}, timeout=30
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["predictions"] == pytest.approx(expected)
    finally:
        stop_process(process, 30)


def test_the_docker_runner_runs_the_steps_in_the_users_image(
    kfops_images, docker_engine, tmp_path: Path
) -> None:
    """``kfops images --with .`` then ``kfops run --runner docker`` on that image: each step
    in its container, the project's transformer and steps from the image."""
    project = project_copy(tmp_path)
    config = str(project / "kfops.housing.yaml")
    os.environ["KFOPS_DOCKER"] = docker_engine  # read by kfops images --with in the child
    try:
        built = kfops("images", "--with", str(project), "--config", config, "--json")
    finally:
        del os.environ["KFOPS_DOCKER"]
    assert built.code == 0, built.output
    tag = json.loads(built.stdout)["image"]
    data = str(REPO / "examples" / "housing" / "data" / "housing.parquet")
    result = kfops(
        "run", "--runner", "docker", "--config", config,
        "--set", f"data.path={data}", "--set", f"cluster.image={tag}",
    )  # fmt: skip
    check_run(project, result, "acme-housing")
    subprocess.run([docker_engine, "rmi", tag], capture_output=True, check=False)
