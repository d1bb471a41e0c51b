"""The one Kubernetes call helper (kfops.cluster.kube_api), against a recording HTTP server
on 127.0.0.1: what it sends, and the one-line errors with hints it turns failures into."""

from __future__ import annotations

import pytest

from kfops.cluster import kube_api
from kfops.errors import ClusterError, RolloutError
from tests.support.recording import recording

PATH = "/apis/example.io/v1/namespaces/team/widgets/w1"


@pytest.mark.parametrize(
    ("namespace", "name", "path"),
    [
        ("team", "w1", PATH),
        ("team", None, "/apis/example.io/v1/namespaces/team/widgets"),
        (None, None, "/apis/example.io/v1/widgets"),
    ],
)
def test_object_paths(namespace: str | None, name: str | None, path: str) -> None:
    assert kube_api.object_path("example.io", "v1", "widgets", namespace, name) == path


def test_a_get_returns_the_decoded_answer_and_asks_for_json() -> None:
    with recording(lambda request: (200, {"kind": "Widget", "spec": {"size": 3}})) as api:
        got = kube_api.call(
            api.client(), "GET", PATH, "read widget", query=[("labelSelector", "a=b")]
        )
    assert got == {"kind": "Widget", "spec": {"size": 3}}
    (sent,) = api.requests
    assert (sent.method, sent.path, sent.query) == ("GET", PATH, {"labelSelector": ["a=b"]})
    assert sent.headers["accept"] == "application/json"


def test_a_patch_carries_its_content_type_and_body() -> None:
    with recording() as api:
        kube_api.call(
            api.client(),
            "PATCH",
            PATH,
            "resize widget",
            body={"spec": {"size": None}},
            content_type=kube_api.MERGE_PATCH,
        )
    assert api.sent() == [("PATCH", PATH, kube_api.MERGE_PATCH, {"spec": {"size": None}})]


def test_server_side_apply_sends_the_whole_object_as_its_manager() -> None:
    manifest = {"apiVersion": "example.io/v1", "kind": "Widget", "metadata": {"name": "w1"}}
    with recording(lambda request: (200, request.json())) as api:
        stored = kube_api.server_side_apply(api.client(), PATH, "apply widget", manifest, "me")
    assert stored == manifest
    assert api.sent() == [("PATCH", PATH, kube_api.APPLY_PATCH, manifest)]
    assert api.requests[0].query == {"fieldManager": ["me"], "force": ["true"]}


def test_a_generated_api_wrapper_is_called_through_its_client() -> None:
    from kubernetes import client

    with recording(lambda request: (200, {"items": []})) as api:
        wrapped = client.CustomObjectsApi(api.client())
        assert kube_api.call(wrapped, "GET", PATH, "list widgets") == {"items": []}
    assert [r.path for r in api.requests] == [PATH]


def refuse(code: int, message: object = 'widgets "w1" is\n  forbidden'):
    return lambda request: (code, {"kind": "Status", "code": code, "message": message})


@pytest.mark.parametrize(
    ("code", "hints", "expected"),
    [
        # The caller's hint for the status comes first.
        (403, {403: "grant the Role in widgets.yaml"}, "; grant the Role in widgets.yaml"),
        # Else the general one for that status.
        (409, {403: "unused"}, "; it changed or already exists; read it again and retry"),
        (401, None, "; check the credentials (token or kubeconfig)"),
        # Else the default.
        (500, None, "; check the cluster"),
    ],
)
def test_api_errors_are_one_line_with_a_hint(
    code: int, hints: dict[int, str] | None, expected: str
) -> None:
    with recording(refuse(code)) as api, pytest.raises(RolloutError) as caught:
        kube_api.call(api.client(), "GET", PATH, "read widget", error=RolloutError, hints=hints)
    message = str(caught.value)
    assert message == f'read widget: HTTP {code}: widgets "w1" is forbidden{expected}'
    assert kube_api.api_status(caught.value) == code


def test_the_caller_chooses_the_default_hint_and_the_error_class() -> None:
    with recording(refuse(400, "bad")) as api, pytest.raises(ClusterError) as caught:
        kube_api.call(api.client(), "POST", PATH, "create widget", default_hint="read the docs")
    assert str(caught.value) == "create widget: HTTP 400: bad; read the docs"
    assert type(caught.value) is ClusterError and caught.value.exit_code == ClusterError.exit_code


def test_an_answer_without_a_status_message_shows_the_reason() -> None:
    expected = r"^read widget: HTTP 404: Not Found; create it"
    with (
        recording(lambda request: (404, ["not", "a", "Status"])) as api,
        pytest.raises(ClusterError, match=expected),
    ):
        kube_api.call(api.client(), "GET", PATH, "read widget")


def test_an_unreachable_api_is_one_line_without_a_status() -> None:
    from kubernetes import client

    with recording() as api:
        url = api.url  # the server is gone once the block ends
    configuration = client.Configuration(host=url)
    configuration.retries = 0
    with pytest.raises(RolloutError) as caught:
        kube_api.call(
            client.ApiClient(configuration), "GET", PATH, "read widget", error=RolloutError
        )
    message = str(caught.value)
    assert message.startswith("read widget: the Kubernetes API is unreachable (")
    assert "\n" not in message and message.endswith("is right")
    assert kube_api.api_status(caught.value) is None


def test_api_status_is_none_for_errors_not_from_an_answer() -> None:
    assert kube_api.api_status(ClusterError("no kubeconfig")) is None
