"""ModelRollout I/O (kfops.rollout.drivers.kube) against a local endpoint that records requests,
and the operator's manifests: least-privilege RBAC derived from the code's tables."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from kfops.errors import RolloutError
from kfops.rollout.backends import kserve as kserve_backend
from kfops.rollout.drivers import kube
from tests.support.recording import recording

BASE = Path(__file__).resolve().parents[3] / "manifests" / "base"
PATH = "/apis/rollouts.kfops.io/v1alpha1/namespaces/team/modelrollouts/churn"


ROLLOUT = {"metadata": {"name": "churn", "namespace": "team"}, "spec": {"model": "churn"}}


def test_get_reads_the_namespaced_object() -> None:
    with recording(lambda r: (200, ROLLOUT)) as api:
        assert kube.get_rollout(api.client(), "team", "churn") == ROLLOUT
    assert api.sent() == [("GET", PATH, None, None)]
    assert api.requests[0].headers["accept"] == "application/json"


@pytest.mark.parametrize(
    ("namespace", "path"),
    [
        ("team", "/apis/rollouts.kfops.io/v1alpha1/namespaces/team/modelrollouts"),
        (None, "/apis/rollouts.kfops.io/v1alpha1/modelrollouts"),
    ],
)
def test_list_in_one_or_every_namespace(namespace: str | None, path: str) -> None:
    with recording(lambda r: (200, {"items": [ROLLOUT, ROLLOUT]})) as api:
        items = kube.list_rollouts(api.client(), namespace)
    assert len(items) == 2 and api.sent() == [("GET", path, None, None)]


def test_patch_status_is_a_merge_patch_on_the_subresource() -> None:
    status = {"phase": "Paused", "currentStepIndex": 2, "message": None}
    with recording(lambda r: (200, {**ROLLOUT, "status": status})) as api:
        stored = kube.patch_status(api.client(), "team", "churn", status)
    assert api.sent() == [
        ("PATCH", PATH + "/status", "application/merge-patch+json", {"status": status})
    ]
    assert stored["status"]["phase"] == "Paused"


def test_patch_spec_and_annotate_are_merge_patches_on_the_object() -> None:
    with recording() as api:
        kube.patch_spec(api.client(), "team", "churn", {"paused": True})
        kube.annotate(api.client(), "team", "churn", {"rollouts.kfops.io/promote": "full"})
        kube.annotate(api.client(), "team", "churn", {"rollouts.kfops.io/promote": None})
    merge = "application/merge-patch+json"
    assert api.sent() == [
        ("PATCH", PATH, merge, {"spec": {"paused": True}}),
        (
            "PATCH",
            PATH,
            merge,
            {"metadata": {"annotations": {"rollouts.kfops.io/promote": "full"}}},
        ),
        ("PATCH", PATH, merge, {"metadata": {"annotations": {"rollouts.kfops.io/promote": None}}}),
    ]


@pytest.mark.parametrize(
    ("code", "message"),
    [
        (404, r"read ModelRollout team/churn: HTTP 404: not here; is the CRD installed"),
        (403, r"HTTP 403: not here; grant the service account"),
        (401, r"HTTP 401: not here; check the credentials"),
    ],
)
def test_api_errors_are_one_line_rollout_errors(code: int, message: str) -> None:
    with (
        recording(lambda r: (code, {"kind": "Status", "message": "not\nhere"})) as api,
        pytest.raises(RolloutError, match=message) as caught,
    ):
        kube.get_rollout(api.client(), "team", "churn")
    assert "\n" not in str(caught.value)


def test_an_unreachable_api_is_a_rollout_error() -> None:
    with recording() as api:
        url = api.url
    with pytest.raises(RolloutError, match="unreachable"):
        kube.get_rollout(kube.api_client(url), "team", "churn")


# --- the operator's manifests ---------------------------------------------------------


def documents(name: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((BASE / name).read_text()) if d]


def of_kind(kind: str) -> dict[str, Any]:
    (found,) = [d for d in documents("rollout-operator.yaml") if d["kind"] == kind]
    return found


def grants(permissions: tuple[kube.Permission, ...]) -> set[tuple[str, str, str]]:
    return {(p.group, p.resource, verb) for p in permissions for verb in p.verbs}


def test_the_cluster_role_grants_exactly_what_the_code_declares() -> None:
    granted = {
        (group, resource, verb)
        for rule in of_kind("ClusterRole")["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }
    needed = grants(kube.PERMISSIONS) | grants(kserve_backend.PERMISSIONS)
    assert granted == needed
    assert not any("*" in part for grant in granted for part in grant)
    assert not any(resource == "secrets" for _, resource, _ in granted)


def test_the_binding_names_the_role_and_the_service_account() -> None:
    binding, account = of_kind("ClusterRoleBinding"), of_kind("ServiceAccount")
    assert binding["roleRef"]["name"] == of_kind("ClusterRole")["metadata"]["name"]
    (subject,) = binding["subjects"]
    assert (subject["name"], subject["namespace"]) == (
        account["metadata"]["name"],
        account["metadata"]["namespace"],
    )
    pod = of_kind("Deployment")["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == account["metadata"]["name"]


def test_the_operator_runs_standalone_kopf_locked_down() -> None:
    deployment = of_kind("Deployment")
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"]["type"] == "Recreate"
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["image"] == "ghcr.io/kfops/kfops:0.1.0"
    assert container["command"][:6] == [
        "kopf",
        "run",
        "--standalone",
        "-m",
        "kfops.rollout.drivers.operator",
        "--all-namespaces",
    ]
    security = container["securityContext"]
    assert security["runAsNonRoot"] is True
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert security["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert set(container["resources"]) == {"requests", "limits"}


def test_the_operator_manifests_are_valid_kubernetes_objects() -> None:
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    for document in documents("rollout-operator.yaml"):
        kubernetes_validate.validate(document, "1.31.0", strict=True)


def test_the_kustomization_lists_every_file_of_the_base() -> None:
    (kustomization,) = documents("kustomization.yaml")
    files = {p.name for p in BASE.glob("*.yaml")} - {"kustomization.yaml"}
    assert sorted(kustomization["resources"]) == sorted(files)
