"""submit_run / schedule_run against a recording emulator of the KFP v2beta1 API
(``kfp_api`` in conftest.py): assertions are on the exact JSON objects kfp.Client sends."""

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml
from kfp import compiler, dsl, kubernetes

from kfops.cluster.client import (
    build_parameters,
    check_max_concurrency,
    normalise_host,
    read_pipeline_spec,
    schedule_run,
    submit_run,
)
from kfops.errors import ClusterError, ConfigurationError

API = "/apis/v2beta1"


def echo(text: str, times: int) -> str:
    """A trivial component body; only the compiled package matters here."""
    return text * times


@dsl.pipeline(name="tiny")
def tiny(text: str, times: int = 2, config: dict = {}):  # noqa: B006 (kfp needs a literal)
    task = dsl.component(base_image="python:3.11-slim", install_kfp_package=False)(echo)(
        text=text, times=times
    )
    kubernetes.add_node_selector(task, "pool", "cpu")  # so the package has a platform spec


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("package") / "tiny.yaml"
    compiler.Compiler().compile(tiny, str(path))
    return path


def sent_spec(package: Path) -> dict[str, Any]:
    """What kfp.Client puts in ``pipeline_spec``: both documents when there is a platform spec."""
    pipeline_spec, platform_spec = yaml.safe_load_all(package.read_text())
    return {"pipeline_spec": pipeline_spec, "platform_spec": platform_spec}


# ---------------------------------------------------------------- submit_run


def test_submit_run_creates_experiment_and_sends_the_package(kfp_api, package: Path) -> None:
    run_id = submit_run(
        str(package),
        host=kfp_api.url + "/",
        experiment="churn",
        run_name="churn 2025-01-01",
        params={"text": "hi", "config": {"project": "churn", "data": {"target": "y"}}},
        service_account="pipeline-runner",
    )

    assert kfp_api.routes() == [
        ("GET", f"{API}/healthz"),
        ("GET", f"{API}/experiments"),
        ("POST", f"{API}/experiments"),
        ("POST", f"{API}/runs"),
    ]
    lookup = kfp_api.only("GET", f"{API}/experiments")
    assert yaml.safe_load(lookup.query["filter"][0]) == {
        "predicates": [{"operation": 1, "key": "display_name", "stringValue": "churn"}]
    }
    assert kfp_api.only("POST", f"{API}/experiments").body == {
        "display_name": "churn",
        "namespace": "",
    }
    experiment_id = kfp_api.experiments[0]["experiment_id"]

    run = kfp_api.only("POST", f"{API}/runs").body
    assert run_id == run_id.strip() and run_id.startswith("run-")
    assert run == {
        "experiment_id": experiment_id,
        "display_name": "churn 2025-01-01",
        "pipeline_spec": sent_spec(package),
        "runtime_config": {
            "parameters": {"text": "hi", "config": {"project": "churn", "data": {"target": "y"}}}
        },
        "service_account": "pipeline-runner",
    }


def test_submit_run_reuses_an_existing_experiment(kfp_api, package: Path) -> None:
    first = submit_run(str(package), kfp_api.url, "churn", "a", {"text": "a"})
    second = submit_run(str(package), kfp_api.url, "churn", "b", {"text": "b", "times": 3})

    assert first != second
    assert [r.route for r in kfp_api.requests].count(("POST", f"{API}/experiments")) == 1
    runs = [r.body for r in kfp_api.requests if r.route == ("POST", f"{API}/runs")]
    assert [r["experiment_id"] for r in runs] == [kfp_api.experiments[0]["experiment_id"]] * 2
    assert runs[1]["runtime_config"] == {"parameters": {"text": "b", "times": 3}}
    assert "service_account" not in runs[0]


def test_submit_run_with_namespace_and_token(kfp_api, package: Path) -> None:
    submit_run(
        str(package),
        kfp_api.url,
        "churn",
        "r",
        {"text": "x"},
        namespace="team-a",
        existing_token="tok-123",
    )

    # A known user namespace spares kfp.Client its health probe.
    assert kfp_api.routes()[0] == ("GET", f"{API}/experiments")
    assert kfp_api.only("GET", f"{API}/experiments").query["namespace"] == ["team-a"]
    assert kfp_api.only("POST", f"{API}/experiments").body["namespace"] == "team-a"
    assert {r.headers.get("authorization") for r in kfp_api.requests} == {"Bearer tok-123"}


# ---------------------------------------------------------------- schedule_run


def test_schedule_run_sends_cron_trigger_concurrency_and_catchup(kfp_api, package: Path) -> None:
    recurring_id = schedule_run(
        str(package),
        host=kfp_api.url,
        experiment="churn",
        job_name="churn nightly",
        cron="  0 0 3 * *  mon-fri ",
        params={"text": "nightly"},
        max_concurrency=2,
        no_catchup=True,
    )

    assert kfp_api.routes()[-1] == ("POST", f"{API}/recurringruns")
    job = kfp_api.only("POST", f"{API}/recurringruns").body
    assert recurring_id.startswith("rr-")
    assert job == {
        "experiment_id": kfp_api.experiments[0]["experiment_id"],
        "display_name": "churn nightly",
        "mode": "ENABLE",
        "trigger": {"cron_schedule": {"cron": "0 0 3 * * MON-FRI"}},
        "max_concurrency": 2,
        "no_catchup": True,
        "pipeline_spec": sent_spec(package),
        "runtime_config": {"parameters": {"text": "nightly"}},
    }


@pytest.mark.parametrize("no_catchup", [True, False])
@pytest.mark.parametrize("max_concurrency", [1, 10])
def test_schedule_run_boundaries_are_sent(kfp_api, package, max_concurrency, no_catchup) -> None:
    schedule_run(
        str(package),
        kfp_api.url,
        "e",
        "j",
        "0 0 * * * *",
        {"text": "t"},
        max_concurrency=max_concurrency,
        no_catchup=no_catchup,
    )
    job = kfp_api.only("POST", f"{API}/recurringruns").body
    assert (job["max_concurrency"], job["no_catchup"]) == (max_concurrency, no_catchup)


def test_five_field_cron_sends_no_request(kfp_api, package: Path) -> None:
    with pytest.raises(ConfigurationError) as info:
        schedule_run(str(package), kfp_api.url, "e", "j", "0 3 * * *", {"text": "t"})
    assert str(info.value) == (
        "cron '0 3 * * *' has 5 fields; KFP cron has 6 (seconds first), e.g. '0 0 3 * * *'"
    )
    assert kfp_api.requests == []


@pytest.mark.parametrize("value", [0, 11, -1, True, 2.5])
def test_max_concurrency_out_of_range_sends_no_request(kfp_api, package, value) -> None:
    with pytest.raises(ConfigurationError, match=r"max_concurrency .*from 1 to 10"):
        schedule_run(
            str(package), kfp_api.url, "e", "j", "0 0 * * * *", {"text": "t"}, max_concurrency=value
        )
    assert kfp_api.requests == []


# ---------------------------------------------------------------- failures


def test_unreachable_host_is_a_cluster_error(closed_port_url: str, package: Path) -> None:
    with pytest.raises(ClusterError) as info:
        submit_run(str(package), closed_port_url, "e", "r", {"text": "t"})
    message = str(info.value)
    assert message.startswith(f"KFP at {closed_port_url}: cannot reach the API to connect")
    assert "connection refused" in message and "port-forward" in message
    assert "\n" not in message


def test_unreachable_host_with_namespace_fails_at_the_first_call(closed_port_url, package) -> None:
    with pytest.raises(ClusterError, match=r"cannot reach the API to find or create experiment"):
        schedule_run(
            str(package), closed_port_url, "e", "j", "0 0 * * * *", {"text": "t"}, namespace="ns"
        )


@pytest.mark.parametrize(
    ("route", "status", "action", "hint"),
    [
        (
            ("POST", f"{API}/runs"),
            500,
            "create run 'r'",
            "kubectl logs -n kubeflow deploy/ml-pipeline",
        ),
        (("GET", f"{API}/experiments"), 403, "find or create experiment 'e'", "check the token"),
        (("POST", f"{API}/experiments"), 400, "find or create experiment 'e'", "check the run's"),
    ],
)
def test_http_errors_name_host_status_and_what_to_check(
    kfp_api, package, route, status, action, hint
) -> None:
    kfp_api.fail(*route, status, "boom from the server")
    with pytest.raises(ClusterError) as info:
        submit_run(str(package), kfp_api.url, "e", "r", {"text": "t"})
    message = str(info.value)
    assert message.startswith(f"KFP at {kfp_api.url}: {action} failed with HTTP {status}")
    assert "(boom from the server)" in message and hint in message
    assert "\n" not in message


def test_failing_health_check_is_a_cluster_error(kfp_api, package, monkeypatch) -> None:
    import kfp.client.client as kfp_client_module

    # kfp.Client sleeps 5 s between its 5 health probes; skip the waiting, keep the probes.
    monkeypatch.setattr(kfp_client_module, "time", SimpleNamespace(sleep=lambda seconds: None))
    kfp_api.fail("GET", f"{API}/healthz", 503, "upstream connect error")
    with pytest.raises(ClusterError) as info:
        submit_run(str(package), kfp_api.url, "e", "r", {"text": "t"})
    assert str(info.value).startswith(
        f"KFP at {kfp_api.url}: the health check (GET /apis/v2beta1/healthz) failed 5 times; "
    )
    assert kfp_api.routes() == [("GET", f"{API}/healthz")] * 5


def test_unknown_route_404_points_at_the_endpoint(kfp_api, package) -> None:
    kfp_api.fail("POST", f"{API}/recurringruns", 404, "Not Found")
    with pytest.raises(
        ClusterError, match=r"HTTP 404.*check that the host is the KFP API endpoint"
    ):
        schedule_run(str(package), kfp_api.url, "e", "j", "0 0 * * * *", {"text": "t"})


# ---------------------------------------------------------------- pure helpers


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("http://localhost:8080", "http://localhost:8080"),
        (" https://kf.example.com/pipeline/ ", "https://kf.example.com/pipeline"),
    ],
)
def test_normalise_host(host: str, expected: str) -> None:
    assert normalise_host(host) == expected


@pytest.mark.parametrize(
    ("host", "message"),
    [
        (None, r"^cluster\.host: not set"),
        ("", r"^cluster\.host: not set"),
        ("localhost:8080", r"^cluster\.host 'localhost:8080': not an http\(s\) URL"),
        ("ftp://x", r"not an http\(s\) URL"),
    ],
)
def test_bad_host_sends_no_request(host, message, kfp_api, package) -> None:
    with pytest.raises(ConfigurationError, match=message):
        submit_run(str(package), host, "e", "r", {"text": "t"})
    assert kfp_api.requests == []


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({}, r"^parameter 'text': required by pipeline 'tiny'"),
        (
            {"text": "t", "txet": 1},
            r"^parameter 'txet': not an input of pipeline 'tiny'; inputs: config, text, times$",
        ),
        ({"text": 3}, r"^parameter 'text': int 3 given, pipeline 'tiny' expects STRING$"),
        ({"text": "t", "times": True}, r"expects NUMBER_INTEGER"),
        ({"text": "t", "times": 1.5}, r"expects NUMBER_INTEGER"),
        ({"text": "t", "config": [1]}, r"expects STRUCT"),
        ({"text": "t", "config": {"when": object()}}, r"^parameter 'config': value .* is not JSON"),
        ({"text": "t", "config": {"x": float("nan")}}, r"is not JSON"),
    ],
)
def test_bad_parameters_send_no_request(params, message, kfp_api, package) -> None:
    with pytest.raises(ConfigurationError, match=message):
        submit_run(str(package), kfp_api.url, "e", "r", params)
    assert kfp_api.requests == []


def test_build_parameters_accepts_defaults_and_ints_for_doubles(package: Path) -> None:
    spec = read_pipeline_spec(package)
    assert build_parameters(spec, {"text": "t"}) == {"text": "t"}
    spec["root"]["inputDefinitions"]["parameters"]["ratio"] = {"parameterType": "NUMBER_DOUBLE"}
    assert build_parameters(spec, {"text": "t", "ratio": 1}) == {"text": "t", "ratio": 1}


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing.yaml", None, "file not found; compile the pipeline first"),
        ("pipeline.json", "{}", r"expected a compiled \.yaml file"),
        ("broken.yaml", "a: [", "not valid YAML"),
        ("component.yaml", "name: x\n", "not a compiled KFP pipeline"),
    ],
)
def test_bad_package(tmp_path: Path, name, content, message, kfp_api) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_text(content)
    with pytest.raises(ConfigurationError, match=message):
        submit_run(str(path), kfp_api.url, "e", "r", {})
    assert kfp_api.requests == []


@pytest.mark.parametrize(("kind", "value"), [("experiment", " "), ("run", "")])
def test_blank_names_send_no_request(kind: str, value: str, kfp_api, package) -> None:
    names = {"experiment": "e", "run": "r", kind: value}
    with pytest.raises(ConfigurationError, match=rf"^{kind} name is empty"):
        submit_run(str(package), kfp_api.url, names["experiment"], names["run"], {"text": "t"})
    assert kfp_api.requests == []


def test_check_max_concurrency_accepts_the_limits() -> None:
    assert [check_max_concurrency(v) for v in (1, 10)] == [1, 10]
