"""Datasets in object storage, read from a real S3 API server (moto's) on loopback."""

from __future__ import annotations

import gzip
import os
import re
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import boto3
import numpy as np
import pandas as pd
import pytest

from kfops.config import DataConfig, DataFormat
from kfops.data.ingest import ingest, read_dataset
from kfops.data.object_store import object_fingerprint
from kfops.errors import DataError
from kfops.runners.local import data_fingerprint
from tests.support.s3 import S3Server, free_port, running_s3_server, use_s3_server

BUCKET = "datasets"
CHURN = Path(__file__).resolve().parents[1] / "fixtures" / "churn_small.csv"


def churn(rows: int = 40) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    return pd.DataFrame(
        {
            "customer": [f"C{i:03d}" for i in range(rows)],
            "tenure": rng.integers(1, 72, size=rows),
            "spend": rng.normal(50, 10, size=rows).round(2),
            "plan": rng.choice(["basic", "pro"], size=rows),
            "churned": [1] * 12 + [0] * (rows - 12),
        }
    )


@pytest.fixture(scope="module")
def s3_server() -> Iterator[str]:
    """moto's S3 server, once for the module, with the datasets; yields its endpoint."""
    with running_s3_server() as server:
        client = server.client()
        client.create_bucket(Bucket=BUCKET)
        data = churn()
        client.put_object(Bucket=BUCKET, Key="churn.csv", Body=data.to_csv(index=False).encode())
        client.put_object(
            Bucket=BUCKET, Key="churn.parquet", Body=data.to_parquet(index=False), ACL="public-read"
        )
        client.put_object(
            Bucket=BUCKET,
            Key="gz/churn.csv.gz",
            Body=gzip.compress(data.to_csv(index=False).encode()),
        )
        yield server.endpoint


@pytest.fixture
def aws_env(s3_server: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """Standard AWS variables pointing at the server; nothing from this machine's setup."""
    use_s3_server(S3Server(endpoint=s3_server), monkeypatch, tmp_path)
    return s3_server


def data_cfg(path: str) -> DataConfig:
    return DataConfig.model_validate({"path": path, "target": "churned"})


def fails(uri: str, match: str) -> DataError:
    with pytest.raises(DataError, match=match) as caught:
        read_dataset(uri)
    error = caught.value
    assert error.exit_code == DataError.exit_code == 3
    assert "\n" not in str(error) and str(error).startswith(f"{uri}: ")
    return error


# reading -------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["churn.csv", "churn.parquet", "gz/churn.csv.gz"])
def test_objects_read_like_the_local_file(aws_env: str, key: str) -> None:
    read = read_dataset(f"s3://{BUCKET}/{key}")
    pd.testing.assert_frame_equal(read, churn(), check_dtype=False)


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_ingest_of_an_object_gives_the_local_files_rows_and_digest(
    aws_env: str, tmp_path: Path, suffix: str
) -> None:
    local = tmp_path / f"churn.{suffix}"
    if suffix == "csv":
        churn().to_csv(local, index=False)
    else:
        churn().to_parquet(local, index=False)
    remote = ingest(
        data_cfg(f"s3://{BUCKET}/churn.{suffix}"), str(tmp_path / "r/train"), str(tmp_path / "r/te")
    )
    here = ingest(data_cfg(str(local)), str(tmp_path / "l/train"), str(tmp_path / "l/te"))
    assert remote.digest == here.digest and remote.schema_digest == here.schema_digest
    assert (remote.rows, remote.train_rows, remote.test_rows) == (40, 32, 8)
    assert remote.source == f"s3://{BUCKET}/churn.{suffix}"
    for part in ("train", "te"):
        pd.testing.assert_frame_equal(
            pd.read_parquet(tmp_path / "r" / part), pd.read_parquet(tmp_path / "l" / part)
        )


def test_hadoop_style_s3a_uris_read_the_same_object(aws_env: str) -> None:
    assert len(read_dataset(f"s3a://{BUCKET}/churn.parquet")) == 40


def test_a_minio_style_endpoint_named_by_host_is_addressed_path_style(
    aws_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``datasets.localhost`` does not resolve: only path-style requests reach the server."""
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", aws_env.replace("127.0.0.1", "localhost"))
    assert len(read_dataset(f"s3://{BUCKET}/churn.csv")) == 40


def test_the_fingerprint_follows_the_objects_content(aws_env: str) -> None:
    uri = f"s3://{BUCKET}/fingerprinted.csv"
    client = boto3.client("s3", endpoint_url=aws_env)
    client.put_object(Bucket=BUCKET, Key="fingerprinted.csv", Body=b"a,b\n1,2\n")
    first = object_fingerprint(uri)
    assert object_fingerprint(uri) == first == data_fingerprint(uri)  # the local runner's key
    client.put_object(Bucket=BUCKET, Key="fingerprinted.csv", Body=b"a,b\n1,3\n")
    assert object_fingerprint(uri) != first
    assert data_fingerprint(uri) != first


def test_the_local_runner_fails_before_running_on_a_missing_object(aws_env: str) -> None:
    with pytest.raises(DataError, match=r"no object 'absent\.csv' in bucket"):
        data_fingerprint(f"s3://{BUCKET}/absent.csv")


# failures: one line each, with the fix ----------------------------------------------------


def test_a_missing_bucket_is_named(aws_env: str) -> None:
    fails("s3://no-such-bucket/churn.csv", r"bucket 'no-such-bucket' does not exist at the S3 "
          r"endpoint http://127\.0\.0\.1:\d+; check the bucket name")  # fmt: skip


def test_a_missing_object_is_named(aws_env: str) -> None:
    fails(f"s3://{BUCKET}/nope/churn.csv", rf"no object 'nope/churn\.csv' in bucket '{BUCKET}'; "
          "check the key in data.path, or upload")  # fmt: skip


def test_a_folder_is_refused(aws_env: str) -> None:
    fails(f"s3://{BUCKET}/gz/", r"name one object, as s3://BUCKET/path/to/data\.csv")
    fails(f"s3://{BUCKET}", r"name one object")
    fails(f"s3://{BUCKET}/gz.csv", r"no object 'gz\.csv'")
    with pytest.raises(DataError, match=r"'gz' is a folder; point at one CSV or Parquet"):
        read_dataset(f"s3://{BUCKET}/gz", DataFormat.CSV)


def test_no_credentials_says_which_variables_to_set(
    aws_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    fails(f"s3://{BUCKET}/churn.csv", r"no credentials for the S3 endpoint http://127\.0\.0\.1:"
          r"\d+; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")  # fmt: skip


def _set_auth(endpoint: str, free_requests: str) -> None:
    """moto's own admin API: after ``free_requests`` more requests, every call is checked
    against IAM ("inf" turns the checks off again)."""
    request = urllib.request.Request(
        f"{endpoint}/moto-api/reset-auth",
        data=free_requests.encode(),
        headers={"Content-Type": "text/plain"},  # a form body would be parsed away
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 200


def test_access_denied_names_the_right_to_grant(
    aws_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An IAM user without policies, on a server enforcing IAM: S3 answers 403 AccessDenied."""
    iam = boto3.client("iam", endpoint_url=aws_env)
    iam.create_user(UserName="no-rights")
    key = iam.create_access_key(UserName="no-rights")["AccessKey"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
    _set_auth(aws_env, "0")
    try:
        fails(f"s3://{BUCKET}/churn.csv", r"access denied \(.*\); grant the credentials in use "
              rf"s3:GetObject on {BUCKET}/churn\.csv")  # fmt: skip
    finally:
        _set_auth(aws_env, "inf")


def test_an_unreachable_endpoint_is_named(aws_env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Also shows no cached filesystem keeps the earlier, working endpoint."""
    assert len(read_dataset(f"s3://{BUCKET}/churn.csv")) == 40
    closed = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("AWS_ENDPOINT_URL", closed)
    error = fails(f"s3://{BUCKET}/churn.csv", rf"cannot reach the S3 endpoint {closed} \(")
    assert "check the endpoint (AWS_ENDPOINT_URL for MinIO)" in str(error)


def test_unreadable_content_is_a_format_error(aws_env: str) -> None:
    boto3.client("s3", endpoint_url=aws_env).put_object(
        Bucket=BUCKET, Key="broken.parquet", Body=b"not parquet"
    )
    fails(f"s3://{BUCKET}/broken.parquet", r"cannot read as parquet \(")


@pytest.mark.slow
def test_an_unreachable_gcs_endpoint_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    """gcsfs, pointed at a closed loopback port as at an emulator, retries for ~35 s."""
    closed = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", closed)
    fails("gs://datasets/churn.csv", rf"cannot reach the GCS endpoint {closed} \(")


# https:// URLs: a public object, a presigned one -------------------------------------------


def test_an_http_url_reads_like_the_local_file(aws_env: str) -> None:
    """A public-read object, read by an anonymous GET; a private one is refused."""
    read = read_dataset(f"{aws_env}/{BUCKET}/churn.parquet")
    pd.testing.assert_frame_equal(read, churn(), check_dtype=False)
    fails(f"{aws_env}/{BUCKET}/churn.csv", r"access denied \(HTTP 403 Forbidden\); use a URL")


def test_a_presigned_url_reads_a_private_object(aws_env: str) -> None:
    """The private CSV refused to the anonymous GET above, read through a presigned URL.

    moto checks that the URL is signed but not the signature (and its IAM mode fails on
    query-string signatures), so a forged URL is not tested here.
    """
    url = boto3.client("s3", endpoint_url=aws_env).generate_presigned_url(
        "get_object", Params={"Bucket": BUCKET, "Key": "churn.csv"}, ExpiresIn=600
    )
    assert "Signature=" in url
    pd.testing.assert_frame_equal(read_dataset(url), churn(), check_dtype=False)


def test_a_missing_url_and_a_closed_port_are_named(aws_env: str) -> None:
    fails(f"{aws_env}/{BUCKET}/gone.csv", r"nothing at this URL \(HTTP 404\); check the URL")
    closed = f"http://127.0.0.1:{free_port()}"
    fails(
        f"{closed}/data.csv", r"cannot reach 127\.0\.0\.1:\d+ \(.*\); check the URI and the network"
    )


# dvc:// with its data in an S3 remote ------------------------------------------------------


def _git(root: Path, *args: str) -> None:
    done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


@pytest.mark.slow
def test_a_dvc_revision_is_read_from_its_s3_remote(
    aws_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """dvc-s3 pushes to and pulls from the S3 server named by AWS_ENDPOINT_URL; with the
    local cache gone, the revision's data can only come from the bucket."""
    from dvc.repo import Repo

    monkeypatch.setenv("DVC_NO_ANALYTICS", "1")
    client = boto3.client("s3", endpoint_url=aws_env)
    client.create_bucket(Bucket="dvc-remote")
    root = tmp_path / "project"
    root.mkdir()
    _git(root, "init", "-q")
    _git(root, "config", "user.email", "test@kfops.invalid")
    _git(root, "config", "user.name", "kfops tests")
    repo = Repo.init(str(root))
    with repo.config.edit() as conf:
        conf["remote"]["bucket"] = {"url": "s3://dvc-remote/store"}
        conf["core"]["remote"] = "bucket"
    data = root / "data" / "churn.csv"
    data.parent.mkdir()
    churn().to_csv(data, index=False)
    repo.add(str(data))
    assert repo.push() == 1
    repo.close()
    _git(root, "add", "-A")
    _git(root, "commit", "-qm", "v1")
    _git(root, "tag", "v1")
    stored = client.list_objects_v2(Bucket="dvc-remote", Prefix="store/")
    assert stored["KeyCount"] == 1
    shutil.rmtree(root / ".dvc" / "cache")
    data.unlink()

    read = read_dataset(f"dvc://{data}@v1")
    pd.testing.assert_frame_equal(read, churn(), check_dtype=False)


# kfops run on data in the bucket ------------------------------------------------------------


@pytest.mark.slow
def test_kfops_run_trains_on_an_object_and_notices_its_replacement(
    aws_env: str, tmp_path: Path
) -> None:
    """The whole local pipeline on s3:// data; the step cache follows the object, not the URI."""
    client = boto3.client("s3", endpoint_url=aws_env)
    client.upload_file(str(CHURN), BUCKET, "runs/churn.csv")
    uri = f"s3://{BUCKET}/runs/churn.csv"
    kfops = [str(Path(sys.executable).with_name("kfops")), "run", "--data", uri]
    kfops += ["--target", "churned"]
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "COLUMNS": "200"}

    def run() -> str:
        done = subprocess.run(
            kfops, capture_output=True, text=True, timeout=600, cwd=tmp_path, env=env
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout + done.stderr

    first = run()
    assert "promoted to champion" in first and "ingest" in first
    client.put_object(
        Bucket=BUCKET, Key="runs/churn.csv", Body=b"".join(CHURN.open("rb").readlines()[:150])
    )
    second = run()
    assert not re.search(r"ingest\s+cached", second), second

    from mlflow import MlflowClient

    store = f"sqlite:///{tmp_path / '.kfops' / 'mlflow.db'}"
    runs = MlflowClient(store).search_runs(
        [e.experiment_id for e in MlflowClient(store).search_experiments()],
        filter_string=f"tags.`kfops.dataset.source` = '{uri}'",
    )
    assert sorted(int(r.data.tags["kfops.dataset.rows"]) for r in runs) == [149, 300]
