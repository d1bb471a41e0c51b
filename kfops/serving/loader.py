"""Find the model to serve and load it, but only after its files match the registry's digest.

A pickle is code: unpickling a tampered ``model.pkl`` runs the tamperer's code. So the
artifact files are downloaded, hashed (:func:`kfops.registry.versions.artifact_sha256`)
and compared with the ``kfops.model.sha256`` tag recorded at registration before
anything is unpickled. An alias is resolved to a version first and that exact version is
downloaded, so an alias moved meanwhile cannot swap the files under the check.

Sources: ``models:/NAME@ALIAS`` or ``models:/NAME/VERSION`` (the registry), or a storage
URI / local folder holding an MLflow model (in a cluster, what KServe's storage
initializer put in /mnt/models), for which the expected digest is passed in.
"""

from __future__ import annotations

import logging
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kfops.errors import RegistryError, ServingError, one_line
from kfops.registry.versions import MODEL_SHA256_TAG, artifact_sha256
from kfops.serving.errors import ModelIntegrityError

log = logging.getLogger(__name__)

_REGISTRY_URI = re.compile(r"^models:/(?P<name>[^/@]+)(?:@(?P<alias>[^/]+)|/(?P<version>\d+))$")


@dataclass(frozen=True)
class ModelRef:
    """Where the model comes from: a registered version (after alias resolution) or a URI."""

    uri: str
    name: str | None = None
    alias: str | None = None
    version: str | None = None

    @property
    def in_registry(self) -> bool:
        return self.name is not None


@dataclass(frozen=True)
class LoadedModel:
    ref: ModelRef
    sha256: str
    verified: bool
    estimator: Any
    signature_inputs: list[dict[str, Any]] | None
    created_at: float | None = None
    """When the registry version was created (unix seconds); None for a plain URI."""

    @property
    def version(self) -> str:
        return self.ref.version or "unversioned"


def parse_model_uri(uri: str) -> ModelRef:
    """``models:/churn@champion`` -> name and alias; anything not ``models:/NAME...`` is storage."""
    match = _REGISTRY_URI.match(uri)
    if match:
        return ModelRef(uri, match["name"], match["alias"], match["version"])
    if uri.startswith("models:/") and not uri.startswith("models:/m-"):
        raise ServingError(
            f"model '{uri}': name an alias or a version, e.g. models:/churn@champion or "
            "models:/churn/3"
        )
    return ModelRef(uri)


def _resolve(ref: ModelRef, client) -> tuple[ModelRef, str | None, float | None]:
    """The concrete version of a registry reference, its recorded digest and creation time."""
    from mlflow.exceptions import MlflowException

    try:
        if ref.alias is not None:
            mv = client.get_model_version_by_alias(ref.name, ref.alias)
        else:
            mv = client.get_model_version(ref.name, ref.version)
    except MlflowException as exc:
        raise RegistryError(
            f"model '{ref.uri}': not in the registry ({one_line(exc)}); check the "
            "name, the alias or version, and MLFLOW_TRACKING_URI"
        ) from exc
    resolved = ModelRef(f"models:/{ref.name}/{mv.version}", ref.name, ref.alias, str(mv.version))
    created = mv.creation_timestamp / 1000.0 if mv.creation_timestamp else None
    return resolved, mv.tags.get(MODEL_SHA256_TAG), created


def _expected_digest(
    ref: ModelRef, recorded: str | None, expected: str | None, allow_unverified: bool
) -> str | None:
    if recorded and expected and recorded != expected:
        raise ModelIntegrityError(
            f"model '{ref.uri}': the digest given ({expected[:12]}...) differs from the "
            f"registry's record ({recorded[:12]}...); refusing to load it"
        )
    wanted = recorded or expected
    if wanted is None and not allow_unverified:
        where = f"registry tag {MODEL_SHA256_TAG}" if ref.in_registry else "expected digest"
        raise ModelIntegrityError(
            f"model '{ref.uri}': no {where} to check its files against, and a pickle is code; "
            "register it with kfops (which records the digest), pass --sha256, or pass "
            "--allow-unverified to trust it"
        )
    return wanted


def load_model(
    uri: str,
    *,
    expected_sha256: str | None = None,
    allow_unverified: bool = False,
    tracking_uri: str | None = None,
    registry_uri: str | None = None,
) -> LoadedModel:
    """Resolve, download, verify, then unpickle the model at ``uri``."""
    import mlflow
    from mlflow.exceptions import MlflowException

    ref = parse_model_uri(uri)
    recorded = created = None
    if ref.in_registry:
        client = mlflow.MlflowClient(tracking_uri=tracking_uri, registry_uri=registry_uri)
        ref, recorded, created = _resolve(ref, client)
    wanted = _expected_digest(ref, recorded, expected_sha256, allow_unverified)
    with tempfile.TemporaryDirectory(prefix="kfops-model-") as tmp:
        local = Path(ref.uri.removeprefix("file://"))
        if ref.in_registry or not local.is_dir():
            try:
                local = Path(
                    mlflow.artifacts.download_artifacts(
                        artifact_uri=ref.uri,
                        dst_path=tmp,
                        tracking_uri=tracking_uri,
                        registry_uri=registry_uri,
                    )
                )
            except (MlflowException, OSError) as exc:
                raise ServingError(
                    f"model '{ref.uri}': cannot download its artifacts "
                    f"({one_line(exc)}); check the URI and the artifact store"
                ) from exc
        actual = artifact_sha256(local)
        if wanted is not None and actual != wanted:
            raise ModelIntegrityError(
                f"model '{ref.uri}': its files hash to {actual[:12]}... but "
                f"{'the registry recorded' if recorded else 'the expected digest is'} "
                f"{wanted[:12]}...; the artifact changed after registration, refusing to unpickle it"
            )
        if wanted is None:
            log.warning("serving %s unverified (sha256 %s)", ref.uri, actual)
        estimator, inputs = _unpickle(local, ref)
    return LoadedModel(ref, actual, wanted is not None, estimator, inputs, created)


def _unpickle(local: Path, ref: ModelRef) -> tuple[Any, list[dict[str, Any]] | None]:
    import mlflow.sklearn
    from mlflow.models import Model

    if not (local / "MLmodel").is_file():
        raise ServingError(
            f"model '{ref.uri}': no MLmodel file in {local}; serve an MLflow model folder"
        )
    meta = Model.load(str(local / "MLmodel"))
    if "sklearn" not in meta.flavors:
        raise ServingError(
            f"model '{ref.uri}': flavors {sorted(meta.flavors)} include no 'sklearn'; the kfops "
            "server serves scikit-learn models logged with mlflow.sklearn"
        )
    try:
        estimator = mlflow.sklearn.load_model(str(local))
    except Exception as exc:  # unpickling runs arbitrary imports
        raise ServingError(
            f"model '{ref.uri}': cannot unpickle it ({type(exc).__name__}: {exc}); serve it "
            "with the library versions it was trained with"
        ) from exc
    inputs = meta.signature.inputs.to_dict() if meta.signature is not None else None
    return estimator, inputs
