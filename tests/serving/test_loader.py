"""Loading from the registry or a storage URI, digest first (kfops.serving.loader), and the
digest recorded at registration (kfops.registry.versions.register_challenger)."""

from __future__ import annotations

import shutil
from pathlib import Path

import mlflow
import pytest

from kfops.errors import RegistryError, ServingError
from kfops.registry.versions import MODEL_SHA256_TAG, artifact_sha256
from kfops.serving import loader
from kfops.serving.errors import ModelIntegrityError
from kfops.serving.loader import ModelRef, load_model, parse_model_uri


@pytest.mark.parametrize(
    ("uri", "ref"),
    [
        ("models:/churn@champion", ModelRef("models:/churn@champion", "churn", "champion", None)),
        ("models:/churn/3", ModelRef("models:/churn/3", "churn", None, "3")),
        ("s3://bucket/model", ModelRef("s3://bucket/model")),
        ("/mnt/models", ModelRef("/mnt/models")),
        ("models:/m-0123abcd", ModelRef("models:/m-0123abcd")),
    ],
)
def test_parse_model_uri(uri: str, ref: ModelRef) -> None:
    assert parse_model_uri(uri) == ref


def test_a_registry_uri_names_an_alias_or_a_version() -> None:
    with pytest.raises(ServingError, match="name an alias or a version"):
        parse_model_uri("models:/churn")


def test_digest_covers_names_and_bytes_but_not_mlflows_download_marker(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "model.pkl").write_bytes(b"one")
    first = artifact_sha256(tmp_path)
    (tmp_path / "registered_model_meta").write_text("model_version: '1'")
    assert artifact_sha256(tmp_path) == first
    (tmp_path / "a" / "model.pkl").write_bytes(b"two")
    assert artifact_sha256(tmp_path) != first
    (tmp_path / "a" / "model.pkl").rename(tmp_path / "a" / "renamed.pkl")
    assert artifact_sha256(tmp_path) not in (first,)


def test_registration_records_the_artifact_digest(use_registry, tmp_path: Path) -> None:
    client = mlflow.MlflowClient()
    tag = client.get_model_version(use_registry.model_name, use_registry.version).tags
    local = mlflow.artifacts.download_artifacts(
        f"models:/{use_registry.model_name}@champion", dst_path=str(tmp_path)
    )
    assert tag[MODEL_SHA256_TAG] == artifact_sha256(local)


def test_loads_the_champion_verified(loaded, use_registry, feature_rows) -> None:
    import pandas as pd

    assert loaded.verified and loaded.version == use_registry.version
    assert loaded.ref == ModelRef(
        f"models:/{use_registry.model_name}/{use_registry.version}",
        use_registry.model_name,
        "champion",
        use_registry.version,
    )
    assert len(loaded.estimator.predict(pd.DataFrame(feature_rows))) == len(feature_rows)
    assert {spec["name"] for spec in loaded.signature_inputs} >= set(feature_rows[0])


def _never_unpickle(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args, **kwargs):
        raise AssertionError("unpickled a model whose digest did not match")

    monkeypatch.setattr(loader, "_unpickle", fail)


def test_files_differing_from_the_registry_record_are_never_unpickled(
    use_registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = mlflow.MlflowClient()
    name = "churn-tampered"
    version = mlflow.register_model(use_registry.model_uri, name).version
    client.set_model_version_tag(name, version, MODEL_SHA256_TAG, "0" * 64)
    _never_unpickle(monkeypatch)
    with pytest.raises(ModelIntegrityError, match="the registry recorded 000000000000"):
        load_model(f"models:/{name}/{version}")


def test_a_version_without_a_recorded_digest_needs_consent(
    use_registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = "churn-unrecorded"
    version = mlflow.register_model(use_registry.model_uri, name).version
    with pytest.raises(ModelIntegrityError, match="no registry tag kfops.model.sha256"):
        load_model(f"models:/{name}/{version}")
    assert not load_model(f"models:/{name}/{version}", allow_unverified=True).verified


def test_a_given_digest_must_agree_with_the_record(use_registry) -> None:
    with pytest.raises(ModelIntegrityError, match="differs from the registry's record"):
        load_model(f"models:/{use_registry.model_name}@champion", expected_sha256="1" * 64)


def test_unknown_models_are_registry_errors(use_registry) -> None:
    with pytest.raises(RegistryError, match="not in the registry"):
        load_model(f"models:/{use_registry.model_name}@nobody")


@pytest.fixture
def model_copy(use_registry, tmp_path: Path) -> Path:
    local = mlflow.artifacts.download_artifacts(
        f"models:/{use_registry.model_name}@champion", dst_path=str(tmp_path / "download")
    )
    target = tmp_path / "model"
    shutil.copytree(local, target)
    (target / "registered_model_meta").unlink()
    return target


def test_storage_uri_with_the_expected_digest_loads(model_copy: Path) -> None:
    digest = artifact_sha256(model_copy)
    for uri in (str(model_copy), model_copy.as_uri()):
        found = load_model(uri, expected_sha256=digest)
        assert found.verified and found.version == "unversioned" and found.sha256 == digest


def test_tampered_storage_files_are_refused(model_copy: Path, monkeypatch) -> None:
    digest = artifact_sha256(model_copy)
    with (model_copy / "model.pkl").open("ab") as handle:
        handle.write(b"\x00")
    _never_unpickle(monkeypatch)
    with pytest.raises(ModelIntegrityError, match="refusing to unpickle it"):
        load_model(str(model_copy), expected_sha256=digest)


def test_storage_uri_without_a_digest_needs_consent(model_copy: Path) -> None:
    with pytest.raises(ModelIntegrityError, match="no expected digest"):
        load_model(str(model_copy))
    assert not load_model(str(model_copy), allow_unverified=True).verified


def test_not_an_mlflow_model(tmp_path: Path) -> None:
    (tmp_path / "model.pkl").write_bytes(b"x")
    with pytest.raises(ServingError, match="no MLmodel file"):
        load_model(str(tmp_path), allow_unverified=True)
