"""The kustomize overlays render with `kubectl kustomize`, every rendered object validates
strictly (kubernetes-validate here; ../shared's upstream schemas when present), the
overlays hold what they promise (MLflow's address outside the base, digests in prod, a
namespace-scoped operator in a Kubeflow profile), and checkov finds nothing in the rendered
objects and the Dockerfiles."""

import re
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from tests.infra.checkov_scan import assert_clean, run_checkov

REPO = Path(__file__).resolve().parents[2]
MANIFESTS = REPO / "manifests"
OVERLAYS = ["dev", "prod", "kubeflow-profile"]
SHARED_VALIDATOR = REPO.parent / "shared" / "schemas" / "validate.py"
PROFILE_NAMESPACE = "kubeflow-user-example-com"
DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")


@cache
def rendered(overlay: str) -> str:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl (with kustomize) is not installed")
    proc = subprocess.run(
        [kubectl, "kustomize", str(MANIFESTS / "overlays" / overlay)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, f"kubectl kustomize {overlay}: {proc.stderr}"
    return proc.stdout


def objects(overlay: str) -> list[dict]:
    return [d for d in yaml.safe_load_all(rendered(overlay)) if d]


def by_kind(overlay: str, kind: str) -> dict[str, dict]:
    return {o["metadata"]["name"]: o for o in objects(overlay) if o["kind"] == kind}


def containers(overlay: str) -> list[dict]:
    return [
        c
        for d in by_kind(overlay, "Deployment").values()
        for c in d["spec"]["template"]["spec"]["containers"]
    ]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_rendered_object_validates_strictly(overlay: str) -> None:
    docs = objects(overlay)
    assert docs
    for doc in docs:  # every kind the overlays render is a core kind
        kubernetes_validate.validate(doc, "1.36.0", strict=True)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_rendered_objects_against_the_upstream_schemas(overlay: str, tmp_path: Path) -> None:
    if not SHARED_VALIDATOR.exists():
        pytest.skip(f"{SHARED_VALIDATOR} is not here (the contract check of .ci/run)")
    out = tmp_path / f"{overlay}.yaml"
    out.write_text(rendered(overlay))
    proc = subprocess.run(
        [sys.executable, str(SHARED_VALIDATOR), "--fail-on-unknown", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-3000:]


def test_the_base_names_no_mlflow_address_and_every_overlay_does() -> None:
    for path in (MANIFESTS / "base").glob("*.yaml"):
        assert "svc.cluster.local" not in path.read_text(), path
    for overlay in OVERLAYS:
        (settings,) = [n for n in by_kind(overlay, "ConfigMap") if n.startswith("kfops-settings")]
        assert by_kind(overlay, "ConfigMap")[settings]["data"]["mlflow-tracking-uri"].startswith(
            "http://"
        )
        operator = by_kind(overlay, "Deployment")["kfops-rollout-operator"]
        (container,) = operator["spec"]["template"]["spec"]["containers"]
        env = {e["name"]: e for e in container["env"]}
        # kustomize rewrote the reference to the generated (hash-suffixed) name.
        assert env["MLFLOW_TRACKING_URI"]["valueFrom"]["configMapKeyRef"]["name"] == settings


def test_prod_pins_every_image_by_digest_and_dev_follows_tags() -> None:
    prod = [c["image"] for c in containers("prod")]
    assert prod and all(DIGEST.search(image) for image in prod), prod
    assert not any(DIGEST.search(c["image"]) for c in containers("dev"))


@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_mlflow_runs_on_postgresql_from_a_secret_with_artifacts_not_proxied(overlay: str) -> None:
    mlflow = by_kind(overlay, "Deployment")["mlflow"]
    pod = mlflow["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    script = " ".join(container["args"])
    assert "--no-serve-artifacts" in script
    assert '--backend-store-uri "$(cat /etc/mlflow/backend-store-uri)"' in script
    (secret,) = [v["secret"] for v in pod["volumes"] if "secret" in v]
    assert secret["secretName"] == "mlflow-backend"
    assert not any("valueFrom" in e for e in container.get("env", [])), "no secret in the env"
    assert pod["automountServiceAccountToken"] is False
    assert by_kind(overlay, "Service")["mlflow"]["metadata"]["namespace"] == "mlflow"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_deployment_is_selected_by_a_network_policy(overlay: str) -> None:
    policies = by_kind(overlay, "NetworkPolicy").values()
    for deployment in by_kind(overlay, "Deployment").values():
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        namespace = deployment["metadata"]["namespace"]
        assert any(
            p["metadata"]["namespace"] == namespace
            and p["spec"]["podSelector"]["matchLabels"].items() <= labels.items()
            for p in policies
        ), deployment["metadata"]["name"]


@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_namespaces_carry_pod_security_labels(overlay: str) -> None:
    namespaces = by_kind(overlay, "Namespace")
    assert namespaces
    for namespace in namespaces.values():
        assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def test_the_profile_overlay_stays_in_its_namespace_with_the_operators_own_rules() -> None:
    docs = objects("kubeflow-profile")
    kinds = {d["kind"] for d in docs}
    assert not kinds & {"ClusterRole", "ClusterRoleBinding", "Namespace"}
    assert "mlflow" not in by_kind("kubeflow-profile", "Deployment")
    namespaced = [d for d in docs if d["kind"] != "CustomResourceDefinition"]
    assert {d["metadata"]["namespace"] for d in namespaced} == {PROFILE_NAMESPACE}
    base = yaml.safe_load_all((MANIFESTS / "base" / "rollout-operator.yaml").read_text())
    (cluster_role,) = [d for d in base if d["kind"] == "ClusterRole"]
    assert (
        by_kind("kubeflow-profile", "Role")["kfops-rollout-operator"]["rules"]
        == (cluster_role["rules"])
    )
    (operator,) = by_kind("kubeflow-profile", "Deployment").values()
    command = operator["spec"]["template"]["spec"]["containers"][0]["command"]
    assert f"--namespace={PROFILE_NAMESPACE}" in command and "--all-namespaces" not in command
    for name in ("kfops-katib-tuning", "kfops-pipeline-deploy"):
        subject = by_kind("kubeflow-profile", "RoleBinding")[name]["subjects"][0]
        assert subject == {
            "kind": "ServiceAccount",
            "name": "default-editor",
            "namespace": PROFILE_NAMESPACE,
        }


def test_patch_files_are_inline_or_valid_objects() -> None:
    """.ci/run validates every file under manifests/ with a top-level kind: a patch kept in
    its own file would have to be a whole valid object; these overlays keep patches inline."""
    for overlay in OVERLAYS:
        folder = MANIFESTS / "overlays" / overlay
        kustomization = yaml.safe_load((folder / "kustomization.yaml").read_text())
        for patch in kustomization.get("patches", []):
            assert "patch" in patch and "path" not in patch, f"{overlay}: {patch}"


@pytest.mark.slow
def test_checkov_finds_nothing_in_the_rendered_overlays(tmp_path: Path) -> None:
    for overlay in OVERLAYS:
        (tmp_path / f"{overlay}.yaml").write_text(rendered(overlay))
    assert_clean(run_checkov("--directory", str(tmp_path), "--framework", "kubernetes"))


# checkov reads a Dockerfile alone: it cannot resolve `FROM ${ARG}` or look into a base image.
DOCKERFILE_SKIPS = {
    "CKV_DOCKER_7": "FROM ${PYTHON_IMAGE} / ${KFOPS_IMAGE}: checkov cannot resolve the ARG; "
    "its defaults are versioned tags (python:3.11-slim-bookworm, ghcr.io/kfops/kfops:0.1.0)",
}
TFDV_DOCKERFILE_SKIPS = {
    **DOCKERFILE_SKIPS,
    "CKV_DOCKER_2": "the TFDV image inherits the main image's HEALTHCHECK (FROM ${KFOPS_IMAGE})",
    "CKV_DOCKER_3": "the TFDV image inherits the main image's USER 1000:1000 (FROM ${KFOPS_IMAGE})",
}


@pytest.mark.slow
@pytest.mark.parametrize(
    ("dockerfile", "skips"),
    [("Dockerfile", DOCKERFILE_SKIPS), ("runtimes/tfdv/Dockerfile", TFDV_DOCKERFILE_SKIPS)],
)
def test_checkov_finds_nothing_in_the_dockerfiles(dockerfile: str, skips: dict[str, str]) -> None:
    scan = run_checkov(
        "--file", dockerfile, "--framework", "dockerfile", "--skip-check", ",".join(skips)
    )
    assert_clean(scan)


def test_the_main_dockerfile_sets_what_the_tfdv_skips_rely_on() -> None:
    text = (REPO / "Dockerfile").read_text()
    assert re.search(r"^USER 1000:1000$", text, re.M) and re.search(r"^HEALTHCHECK ", text, re.M)
    assert "ARG PYTHON_IMAGE=python:3.11-slim-bookworm" in text
    assert "FROM ${KFOPS_IMAGE}" in (REPO / "runtimes/tfdv/Dockerfile").read_text()
