"""The features step on a cluster's feature store: the Feast registry and the offline
Parquet source in S3 (moto's server), the online store in Redis. The bundled repo, with
its ``feature_store.s3.yaml`` profile and its source uploaded to the bucket."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from kfops.config.portable import repo_files
from kfops.errors import FeaturesError
from kfops.steps.features import run_features
from tests.support.s3 import S3Server, use_s3_server

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
FEATURE_REPO = REPO / "feature_repo"
LABELS = REPO / "examples" / "churn" / "data" / "churn_labels.csv"
BUCKET = "feature-store"
SOURCE = f"s3://{BUCKET}/churn/customer_features.parquet"
REGISTRY = f"s3://{BUCKET}/churn/registry.pb"
PROFILE = "feature_store.s3.yaml"
SERVICE = "churn_model_v1"
LOCAL_SOURCE = 'path="data/customer_features.parquet"'


@pytest.fixture
def bucket_repo(
    s3: S3Server,
    redis_server: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Path:
    """The bundled repo with its source in the bucket, and this process's environment as
    a pod's: AWS variables (no Feast-specific endpoint), the registry and Redis named."""
    import redis

    use_s3_server(s3, monkeypatch, tmp_path)
    monkeypatch.delenv("FEAST_S3_ENDPOINT_URL")  # AWS_ENDPOINT_URL is enough
    monkeypatch.setenv("KFOPS_FEAST_REGISTRY", REGISTRY)
    monkeypatch.setenv("KFOPS_FEAST_REDIS", redis_server)
    host, port = redis_server.split(":")
    redis.Redis(host=host, port=int(port)).flushall()
    client = s3.client()
    client.create_bucket(Bucket=BUCKET)
    for key in s3.keys(BUCKET):
        client.delete_object(Bucket=BUCKET, Key=key)
    client.upload_file(str(FEATURE_REPO / "data" / "customer_features.parquet"), BUCKET,
                       SOURCE.removeprefix(f"s3://{BUCKET}/"))  # fmt: skip

    repo = tmp_path / "feature_repo"
    repo.mkdir()
    definitions = (FEATURE_REPO / "definitions.py").read_text()
    assert definitions.count(LOCAL_SOURCE) == 1
    (repo / "definitions.py").write_text(definitions.replace(LOCAL_SOURCE, f'path="{SOURCE}"'))
    (repo / PROFILE).write_text((FEATURE_REPO / PROFILE).read_text())
    return repo


def splits(folder: Path) -> tuple[str, str]:
    """Labels of the bundled example: 400 to train on, 100 to test, as ingest writes them."""
    labels = pd.read_csv(LABELS).head(500)
    folder.mkdir(parents=True)
    labels.head(400).to_parquet(folder / "train", index=False)
    labels.tail(100).to_parquet(folder / "test", index=False)
    return str(folder / "train"), str(folder / "test")


def config(features: dict, state: Path) -> dict:
    return {
        "project": "churn-feast",
        "data": {
            "path": "s3://labels/churn_labels.csv",
            "target": "churned",
            "entity_column": "customer_id",
            "timestamp_column": "event_timestamp",
        },
        "features": {"service": SERVICE, "store_yaml": PROFILE, **features},
        "runtime": {"root": str(state)},
    }


def test_the_features_step_keeps_registry_and_sources_in_s3_and_serves_from_redis(
    bucket_repo: Path, s3: S3Server, redis_server: str, tmp_path: Path
) -> None:
    import redis

    from kfops.config import FeaturesConfig
    from kfops.features.online import online_feature_vector
    from kfops.features.store import open_store

    train, test = splits(tmp_path / "splits")
    state = tmp_path / "state"
    out = tmp_path / "out"
    summary = run_features(
        config({"repo": str(bucket_repo)}, state), train, test, str(out / "a"), str(out / "b")
    )
    assert (summary.feature_service, summary.store) == (SERVICE, PROFILE)
    assert (summary.train_rows, summary.test_rows) == (400, 100)
    assert summary.materialized_rows > 0
    joined = pd.read_parquet(out / "a")
    assert set(summary.features) <= set(joined.columns)
    assert joined["tenure_months"].notna().mean() > 0.5, "features were joined from the bucket"

    # The registry is an object in the bucket; nothing of it is on this machine's disk.
    assert REGISTRY.removeprefix(f"s3://{BUCKET}/") in s3.keys(BUCKET)
    assert not [p for p in state.rglob("*") if p.is_file()]
    host, port = redis_server.split(":")
    assert redis.Redis(host=host, port=int(port)).dbsize() > 0

    # The online store answers for a customer whose features are within their TTL.
    labels = pd.read_csv(LABELS).head(500)
    customer = labels.sort_values("event_timestamp")["customer_id"].iloc[-1]
    store = open_store(
        FeaturesConfig(repo=str(bucket_repo), service=SERVICE, store_yaml=PROFILE), state
    )
    vector = online_feature_vector(
        store, SERVICE, [{"customer_id": customer}], list(summary.features)
    )
    assert len(vector) == 1


def test_a_second_pod_reads_the_shared_registry_from_s3(
    bucket_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The repo travelled in the config (as ``kfops submit`` sends it) and the pod's state
    folder is new: where materialization stopped is known only from the bucket's registry."""
    train, test = splits(tmp_path / "splits")
    first = run_features(
        config({"repo": str(bucket_repo)}, tmp_path / "pod-1"),
        train, test, str(tmp_path / "1" / "train"), str(tmp_path / "1" / "test"),
    )  # fmt: skip
    assert first.materialized_rows > 0
    travelled = {"repo": "feature_repo", "files": repo_files(bucket_repo)}
    pod = tmp_path / "pod-2-cwd"
    pod.mkdir()
    monkeypatch.chdir(pod)
    second = run_features(
        config(travelled, tmp_path / "pod-2"),
        train, test, str(tmp_path / "2" / "train"), str(tmp_path / "2" / "test"),
    )  # fmt: skip
    assert second.materialized_rows == 0, "already materialized to this cutoff"
    assert second.cutoff == first.cutoff
    pd.testing.assert_frame_equal(
        pd.read_parquet(tmp_path / "1" / "train"), pd.read_parquet(tmp_path / "2" / "train")
    )


def test_a_missing_registry_bucket_is_one_line_naming_the_fix(
    bucket_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KFOPS_FEAST_REGISTRY", "s3://no-such-bucket/registry.pb")
    train, test = splits(tmp_path / "splits")
    with pytest.raises(FeaturesError) as caught:
        run_features(
            config({"repo": str(bucket_repo)}, tmp_path / "state"),
            train, test, str(tmp_path / "a"), str(tmp_path / "b"),
        )  # fmt: skip
    message = str(caught.value)
    assert "\n" not in message
    assert "object store failed (S3RegistryBucketNotExist: S3 bucket no-such-bucket" in message
    assert "AWS_ENDPOINT_URL" in message


def test_feasts_own_endpoint_settings_work_without_aws_endpoint_url(
    bucket_repo: Path, s3: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """FEAST_S3_ENDPOINT_URL for the registry and a source's s3_endpoint_override, as
    Feast documents them: materialization's row count reads the source the same way."""
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    monkeypatch.delenv("MLFLOW_S3_ENDPOINT_URL")
    monkeypatch.setenv("FEAST_S3_ENDPOINT_URL", s3.endpoint)
    definitions = bucket_repo / "definitions.py"
    source = f'path="{SOURCE}"'
    definitions.write_text(
        definitions.read_text().replace(source, f'{source}, s3_endpoint_override="{s3.endpoint}"')
    )
    train, test = splits(tmp_path / "splits")
    summary = run_features(
        config({"repo": str(bucket_repo)}, tmp_path / "state"),
        train, test, str(tmp_path / "a"), str(tmp_path / "b"),
    )  # fmt: skip
    assert summary.materialized_rows > 0
    assert REGISTRY.removeprefix(f"s3://{BUCKET}/") in s3.keys(BUCKET)


def test_a_missing_source_object_is_named_with_its_view(
    bucket_repo: Path, s3: S3Server, tmp_path: Path
) -> None:
    s3.client().delete_object(Bucket=BUCKET, Key=SOURCE.removeprefix(f"s3://{BUCKET}/"))
    train, test = splits(tmp_path / "splits")
    with pytest.raises(FeaturesError) as caught:
        run_features(
            config({"repo": str(bucket_repo)}, tmp_path / "state"),
            train, test, str(tmp_path / "a"), str(tmp_path / "b"),
        )  # fmt: skip
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("feature view 'customer_")
    assert f"check the view's source data ({SOURCE})" in message
