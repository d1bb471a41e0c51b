"""The features step (kfops.steps.features) and its KFP component (components.features)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from kfops.errors import FeaturesError
from kfops.steps.features import run_features
from kfops.steps.results import FeaturesResult
from tests.features.conftest import DAY, FEATURES, SERVICE, T0

REPO = Path(__file__).resolve().parents[2]


def data_config(repo: Path | None, state: Path, **features) -> dict:
    config = {
        "project": "pit",
        "data": {
            "path": "labels.csv",
            "target": "churned",
            "entity_column": "customer_id",
            "timestamp_column": "event_timestamp",
        },
        "runtime": {"root": str(state)},
    }
    if repo is not None:
        config["features"] = {"repo": str(repo), "service": SERVICE, **features}
    return config


def write_splits(folder: Path) -> tuple[str, str]:
    train = pd.DataFrame(
        {
            "customer_id": ["a", "b", "a"],
            "event_timestamp": [T0 + 3 * DAY, T0 + 15 * DAY, T0 - DAY],
            "churned": [1, 0, 0],
        }
    )
    test = pd.DataFrame(
        {"customer_id": ["b"], "event_timestamp": [T0 + DAY], "churned": [1]},
    )
    folder.mkdir(parents=True, exist_ok=True)
    train.to_parquet(folder / "train.parquet", index=False)
    test.to_parquet(folder / "test.parquet", index=False)
    return str(folder / "train.parquet"), str(folder / "test.parquet")


def test_without_a_features_section_splits_pass_through_without_feast(tmp_path):
    train, test = write_splits(tmp_path / "in")
    script = f"""
import json, sys
from kfops.steps.features import run_features
result = run_features({data_config(None, tmp_path)!r}, {train!r}, {test!r},
                      {str(tmp_path / "out" / "train")!r}, {str(tmp_path / "out" / "test")!r})
loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("feast", "pandas", "dask")
                or m.startswith("kfops.features"))
print(json.dumps({{"summary": result.to_dict(), "loaded": loaded}}))
"""
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["summary"] == {"skipped": True, "seconds": result["summary"]["seconds"]}
    assert result["loaded"] == []
    for name, source in (("train", train), ("test", test)):
        assert (tmp_path / "out" / name).read_bytes() == Path(source).read_bytes()


def test_with_features_each_split_becomes_its_training_set(feast_repo, tmp_path, state):
    train, test = write_splits(tmp_path / "in")
    out = tmp_path / "out"
    summary = run_features(
        data_config(feast_repo, state), train, test, str(out / "train"), str(out / "test")
    )
    assert isinstance(summary, FeaturesResult) and summary.skipped is False
    assert summary.feature_service == SERVICE
    assert summary.features == tuple(FEATURES)
    assert (summary.train_rows, summary.test_rows) == (3, 1)
    assert summary.cutoff == (T0 + 15 * DAY).isoformat()  # the latest label
    assert summary.materialized_rows == 1 + 2  # activity: b expired; profile: a and b
    struct = summary.to_dict()  # the component's dict output, JSON as KFP passes it on
    assert json.loads(json.dumps(struct))["features"] == FEATURES
    assert struct["skipped"] is False and struct["train_rows"] == 3
    assert "features" not in summary.artifact_metadata()  # a list is no metadata scalar
    assert summary.artifact_metadata()["feature_service"] == SERVICE
    train_set = pd.read_parquet(out / "train")
    assert list(train_set.columns) == ["customer_id", "event_timestamp", "churned", *FEATURES]
    assert train_set["calls"].tolist()[0] == 2
    assert train_set[["calls", "age"]].iloc[1].tolist()[1] == 50
    assert pd.isna(train_set["calls"].iloc[1]) and train_set[FEATURES].iloc[2].isna().all()
    assert pd.read_parquet(out / "test")["calls"].tolist() == [7]


def test_a_configured_cutoff_bounds_materialization(feast_repo, tmp_path, state):
    train, test = write_splits(tmp_path / "in")
    config = data_config(feast_repo, state, cutoff="2025-03-01T12:00:00")
    summary = run_features(config, train, test, str(tmp_path / "a"), str(tmp_path / "b"))
    assert summary.cutoff == "2025-03-01T12:00:00+00:00"
    assert summary.materialized_rows == 4  # a and b, at T0, in both views


def test_features_need_the_label_time(feast_repo, tmp_path, state):
    train, test = write_splits(tmp_path / "in")
    config = data_config(feast_repo, state)
    del config["data"]["timestamp_column"]
    with pytest.raises(FeaturesError, match=r"data.timestamp_column is not set; point-in-time"):
        run_features(config, train, test, str(tmp_path / "a"), str(tmp_path / "b"))


def test_component_wiring():
    from components.features import component

    spec = component.build("registry.example/kfops:1").component_spec
    assert set(spec.inputs) == {"config", "train", "test"}
    assert set(spec.outputs) == {"train_set", "test_set", "Output"}
    assert spec.implementation.container.image == "registry.example/kfops:1"


@pytest.mark.slow
def test_ingest_then_features_on_kfp_local(tmp_path):
    """The component runs in kfp.local after ingest, on the bundled example."""
    from kfp import dsl, local

    from components.features import component as features_c
    from components.ingest import component as ingest_c
    from kfops.config import data_config_to_dict, load_config
    from kfops.runners.local import LOCAL_IMAGE

    ingest, features = ingest_c.build(LOCAL_IMAGE), features_c.build(LOCAL_IMAGE)

    def ingest_then_features(data_config: dict) -> dict:
        ingested = ingest(config=data_config, data_fingerprint="")
        joined = features(
            config=data_config, train=ingested.outputs["train"], test=ingested.outputs["test"]
        )
        return joined.outputs["Output"]

    # This module's annotations are strings (from __future__); KFP needs the types themselves.
    ingest_then_features.__annotations__ = {"data_config": dict, "return": dict}
    pipeline = dsl.pipeline(name="ingest-features")(ingest_then_features)

    config = REPO / "examples" / "churn" / "kfops.features.yaml"
    cfg = load_config(config, overrides=[f"runtime.root={tmp_path / 'state'}"])
    local.init(
        runner=local.SubprocessRunner(use_venv=False),
        pipeline_root=str(tmp_path / "root"),
        raise_on_error=True,
    )
    summary = pipeline(data_config=data_config_to_dict(cfg)).output
    assert summary["feature_service"] == "churn_model_v1"
    assert (summary["train_rows"], summary["test_rows"]) == (4800, 1200)
    assert summary["materialized_rows"] > 6000
    [train_set] = (tmp_path / "root").rglob("features/train_set")
    assert len(pd.read_parquet(train_set).columns) == 3 + 10


# ------------------------------------------------- a repo that travelled in the config


@pytest.fixture
def s3_endpoint(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """moto's S3 server on 127.0.0.1 and a free port, with the AWS variables pointing at it."""
    from tests.support.s3 import running_s3_server, use_s3_server

    with running_s3_server() as server:
        use_s3_server(server, monkeypatch, tmp_path)
        yield server.endpoint


def travelled_config(tmp_path: Path, repo: Path, state: Path) -> dict:
    """The data_config kfops submit sends for a project using ``repo``."""
    from kfops.config import DATA_SECTIONS, cluster_config, load_config

    project = tmp_path / "project"
    project.mkdir()
    (project / "kfops.yaml").write_text(
        "project: pit\n"
        "data: {path: 's3://labels/labels.csv', target: churned, entity_column: customer_id,"
        " timestamp_column: event_timestamp}\n"
        f"features: {{repo: '{repo}', service: {SERVICE}}}\n"
        "tracking: {uri: 'http://mlflow.kubeflow:5000'}\n"
    )
    raw = cluster_config(load_config(project / "kfops.yaml"))
    raw["runtime"]["root"] = str(state)  # the pod's state folder, here under tmp_path
    return {key: raw[key] for key in DATA_SECTIONS if key in raw}


def test_a_travelled_repo_is_rebuilt_from_its_files_and_reads_s3(
    make_repo, s3_endpoint, tmp_path, state, monkeypatch
):
    """As in a pod: the original repo is gone, the working directory is new."""
    import s3fs

    from tests.features.conftest import DEFINITIONS, snapshots

    s3 = s3fs.S3FileSystem(client_kwargs={"endpoint_url": s3_endpoint})
    s3.mkdir("features")
    with s3.open("features/snapshots.parquet", "wb") as body:
        snapshots().to_parquet(body, index=False)
    source = f'path="s3://features/snapshots.parquet", s3_endpoint_override="{s3_endpoint}"'
    repo = make_repo(DEFINITIONS.replace('path="data/snapshots.parquet"', source))
    config = travelled_config(tmp_path, repo, state)
    assert config["features"]["repo"] == "repo"
    assert "data/snapshots.parquet" not in config["features"]["files"]

    train, test = write_splits(tmp_path / "in")
    repo.rename(tmp_path / "gone")
    pod = tmp_path / "pod"
    pod.mkdir()
    monkeypatch.chdir(pod)
    out = tmp_path / "out"
    summary = run_features(config, train, test, str(out / "train"), str(out / "test"))

    assert summary.features == tuple(FEATURES)
    assert (summary.train_rows, summary.test_rows) == (3, 1)
    assert summary.materialized_rows == 1 + 2
    assert pd.read_parquet(out / "train")["calls"].tolist()[0] == 2
    assert pd.read_parquet(out / "test")["calls"].tolist() == [7]
    assert list(pod.iterdir()) == []  # the rebuilt repo was a temporary folder


def test_a_travelled_repo_with_a_local_source_fails_naming_it(make_repo, tmp_path, state):
    repo = make_repo()
    config = travelled_config(tmp_path, repo, state)
    train, test = write_splits(tmp_path / "in")
    with pytest.raises(FeaturesError, match=r"feature source 'snapshots' reads 'data/snapshots"):
        run_features(config, train, test, str(tmp_path / "a"), str(tmp_path / "b"))


def test_travelled_files_must_stay_inside_the_repo(tmp_path):
    from kfops.config import FeaturesConfig
    from kfops.features.embedded import write_repo

    features = FeaturesConfig(repo="repo", service="svc", files={"../escape.py": "x = 1\n"})
    with pytest.raises(FeaturesError, match="'../escape.py' is not a path inside the repo"):
        write_repo(features, tmp_path)
    assert not (tmp_path / "escape.py").exists()
