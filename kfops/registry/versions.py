"""Model Registry I/O: register a run's model, read scores, move aliases."""

from __future__ import annotations

import hashlib
import math
import tempfile
from pathlib import Path

from kfops.errors import RegistryError, one_line
from kfops.registry.champion import (
    CHALLENGER,
    CHAMPION,
    DECISION_TAG,
    PromotionDecision,
    decide_promotion,
)

MODEL_SHA256_TAG = "kfops.model.sha256"
"""Version tag: digest of the model's artifact files, checked by the server before unpickling."""
_DOWNLOAD_MARKERS = frozenset({"registered_model_meta"})  # written by MLflow's downloader


def _client():
    from mlflow import MlflowClient

    return MlflowClient()


def alias_version(model_name: str, alias: str) -> str | None:
    """The version an alias points at, or None when the model or alias does not exist."""
    from mlflow.exceptions import MlflowException

    try:
        return _client().get_model_version_by_alias(model_name, alias).version
    except MlflowException:
        return None


def artifact_sha256(directory: str | Path) -> str:
    """One sha256 over every file under ``directory``: its relative path, then its bytes' digest.

    Files are taken in sorted path order, so the digest depends on content and names only:
    for ``MLmodel`` and ``model.pkl`` it is sha256(b"MLmodel\\0" + sha256(MLmodel) +
    b"model.pkl\\0" + sha256(model.pkl)). The ``registered_model_meta`` file that MLflow
    writes when it downloads a registered version is not part of the artifact and is skipped.
    """
    root = Path(directory)
    total = hashlib.sha256()
    files = (p for p in root.rglob("*") if p.is_file())
    for path in sorted(p for p in files if p.relative_to(root).as_posix() not in _DOWNLOAD_MARKERS):
        total.update(path.relative_to(root).as_posix().encode() + b"\0")
        with path.open("rb") as handle:
            total.update(hashlib.file_digest(handle, "sha256").digest())
    return total.hexdigest()


def _record_model_digest(client, model_name: str, version: str) -> None:
    """Hash the version's artifacts as the registry serves them and tag the version."""
    import mlflow
    from mlflow.exceptions import MlflowException

    with tempfile.TemporaryDirectory(prefix="kfops-digest-") as tmp:
        try:
            local = mlflow.artifacts.download_artifacts(
                artifact_uri=f"models:/{model_name}/{version}", dst_path=tmp
            )
        except (MlflowException, OSError) as exc:
            raise RegistryError(
                f"registry: cannot read the artifacts of '{model_name}' v{version} to record "
                f"their digest: {one_line(exc)}; check the artifact store"
            ) from exc
        client.set_model_version_tag(model_name, version, MODEL_SHA256_TAG, artifact_sha256(local))


def version_score(model_name: str, version: str, metric: str) -> float:
    """The metric recorded for a version: its tag first, else its source run's metric."""
    client = _client()
    mv = client.get_model_version(model_name, version)
    tagged = mv.tags.get(f"kfops.metric.{metric}")
    if tagged is not None:
        return float(tagged)
    if mv.run_id:
        value = client.get_run(mv.run_id).data.metrics.get(metric)
        if value is not None:
            return float(value)
    return math.nan


def register_challenger(
    model_name: str,
    model_uri: str,
    run_id: str,
    metric: str,
    score: float,
    min_improvement: float,
) -> tuple[str, PromotionDecision]:
    """Register a new version and decide whether it passes the gate; a version that passes
    becomes ``challenger``, one that does not gets no alias (it is no candidate for a rollout).

    The decision and both scores are written to the version's tags and the run, so the
    registry shows why a version was (not) promoted.
    """
    import mlflow
    from mlflow.exceptions import MlflowException

    client = _client()
    champion_version = alias_version(model_name, CHAMPION)
    champion_score = (
        version_score(model_name, champion_version, metric) if champion_version else None
    )
    try:
        mv = mlflow.register_model(model_uri, model_name, tags={"kfops.run_id": run_id})
    except MlflowException as exc:
        raise RegistryError(
            f"registry: cannot register {model_uri} as '{model_name}': {one_line(exc)}"
        ) from exc
    version = str(mv.version)
    _record_model_digest(client, model_name, version)
    decision = decide_promotion(metric, score, champion_score, min_improvement, champion_version)
    if decision.promote:
        client.set_registered_model_alias(model_name, CHALLENGER, version)
    tags = {
        f"kfops.metric.{metric}": str(score),
        "kfops.promotion.metric": metric,
        DECISION_TAG: decision.outcome.value,
        "kfops.promotion.reason": decision.reason,
        "kfops.promotion.champion_version": str(champion_version or ""),
        "kfops.promotion.champion_score": "" if champion_score is None else str(champion_score),
    }
    for key, value in tags.items():
        client.set_model_version_tag(model_name, version, key, value)
    client.set_tag(run_id, "kfops.model_version", version)
    client.set_tag(run_id, DECISION_TAG, tags[DECISION_TAG])
    if champion_score is not None:
        client.log_metric(run_id, f"champion_{metric}", champion_score)
    return version, decision


def version_of_run(model_name: str, run_id: str) -> str:
    """The newest version registered from a run (a run registers one model)."""
    found = _client().search_model_versions(f"name = '{model_name}' and run_id = '{run_id}'")
    if not found:
        raise RegistryError(
            f"registry: no version of '{model_name}' comes from run {run_id}; run the pipeline again"
        )
    return str(max(int(mv.version) for mv in found))


def decision_of(model_name: str, version: str) -> dict[str, str]:
    """The gate's record on a version (the ``kfops.promotion.*`` tags)."""
    tags = _client().get_model_version(model_name, version).tags
    prefix = "kfops.promotion."
    return {k.removeprefix(prefix): v for k, v in tags.items() if k.startswith(prefix)}


def promote(model_name: str, version: str) -> str | None:
    """Point ``champion`` at the version; returns the previous champion version."""
    client = _client()
    previous = alias_version(model_name, CHAMPION)
    client.set_registered_model_alias(model_name, CHAMPION, version)
    if previous and previous != version:
        client.set_model_version_tag(model_name, previous, "kfops.replaced_by", version)
    return previous


def aliases(model_name: str) -> dict[str, str]:
    """Alias -> version for a registered model (empty when it does not exist)."""
    from mlflow.exceptions import MlflowException

    try:
        found = _client().get_registered_model(model_name).aliases
        return {alias: str(version) for alias, version in found.items()}
    except MlflowException:
        return {}
