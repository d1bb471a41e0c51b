"""The Prometheus provider against a real Prometheus scraping real expositions on 127.0.0.1.

Fast tests cover result parsing and the failures that need no Prometheus (nothing
listening, a server that is not Prometheus, a timeout). The slow ones start Prometheus
2.42 (``tests.support.prometheus``), which scrapes a prometheus_client exposition whose
counters the test increments, and, last, three real kfops model servers.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry, Counter, start_http_server

from kfops.errors import RolloutError
from kfops.rollout.providers.prometheus import (
    MeasurementError,
    Result,
    execute,
    parse_result,
    query,
    wait_until_scraped,
)
from tests.support.http_server import json_server
from tests.support.prometheus import PrometheusHandle, free_port, running_prometheus


def _vector(*values: str) -> dict:
    return {
        "resultType": "vector",
        "result": [{"metric": {"i": str(i)}, "value": [1.0, v]} for i, v in enumerate(values)],
    }


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"resultType": "scalar", "result": [1.0, "0.25"]}, 0.25),
        ({"resultType": "scalar", "result": [1.0, "0"]}, 0.0),
        (_vector(), []),
        (_vector("3"), [3.0]),
        (_vector("3", "1", "2"), [3.0, 1.0, 2.0]),  # Prometheus' order, kept
        (_vector("+Inf", "-Inf"), [math.inf, -math.inf]),
    ],
)
def test_a_scalar_is_a_float_and_a_vector_a_list_in_order(data, expected) -> None:
    assert parse_result(data, "q") == expected


def test_nan_stays_a_float() -> None:
    scalar = parse_result({"resultType": "scalar", "result": [1.0, "NaN"]}, "0/0")
    (sample,) = parse_result(_vector("NaN"), "vector(0)/0")
    assert isinstance(scalar, float) and math.isnan(scalar)
    assert isinstance(sample, float) and math.isnan(sample)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"resultType": "matrix", "result": []},
            "query 'x[5m]' returned a range vector (matrix); wrap the range in a function, "
            "e.g. rate(x[5m]) instead of x[5m]",
        ),
        (
            {"resultType": "string", "result": [1.0, "a"]},
            "query 'x[5m]' returned a string; write a query that returns a scalar or an "
            "instant vector",
        ),
        (
            {"resultType": "vector", "result": [{"metric": {}, "value": [1.0, "many"]}]},
            "query 'x[5m]': a sample [1.0, 'many'] is not [time, value]",
        ),
        (None, "query 'x[5m]': the answer has no data object"),
    ],
)
def test_other_results_are_measurement_errors(data, message: str) -> None:
    with pytest.raises(MeasurementError) as caught:
        parse_result(data, "x[5m]")
    assert str(caught.value) == message
    assert isinstance(caught.value, RolloutError)


def test_nothing_listening_names_the_address_and_the_fix() -> None:
    address = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(MeasurementError) as caught:
        query(address, "up", timeout=2)
    message = str(caught.value)
    assert message.startswith(
        f"Prometheus at {address} refused the connection; start Prometheus there or fix "
        "spec.prometheus.address ("
    )
    assert "\n" not in message


def test_an_address_that_is_not_a_url_is_named() -> None:
    with pytest.raises(MeasurementError, match=r"^Prometheus address 'prometheus:9090' is not an"):
        query("prometheus:9090", "up", timeout=1)


def test_a_server_that_is_not_prometheus_is_an_http_error() -> None:
    not_found = json_server(lambda request: (404, {"detail": "Not Found"}))
    with not_found as url, pytest.raises(MeasurementError) as caught:
        query(url, "up", timeout=2)
    assert str(caught.value) == (
        f"Prometheus at {url} answered HTTP 404 to /api/v1/query; check that "
        "spec.prometheus.address is Prometheus' base URL"
    )


def test_a_slow_answer_is_a_timeout_naming_the_query() -> None:
    release = threading.Event()

    def stall(request):
        release.wait(5)
        return 200, {"status": "success", "data": {"resultType": "scalar", "result": [1, "1"]}}

    with json_server(stall) as url:
        try:
            with pytest.raises(MeasurementError) as caught:
                query(url, "sum(rate(x[1m]))", timeout=0.2)
        finally:
            release.set()
    assert str(caught.value) == (
        f"Prometheus at {url} did not answer query 'sum(rate(x[1m]))' within 0.2 s; "
        "simplify the query or raise timeoutSeconds"
    )


@dataclass(frozen=True)
class Request:
    """What the engine hands :func:`execute` (its MeasurementRequest has these fields)."""

    run: str
    metric: str
    query: str
    address: str
    timeout: float = 2.0


def test_execute_turns_failures_into_error_strings_in_order() -> None:
    down = f"http://127.0.0.1:{free_port()}"
    with json_server(lambda request: (503, "busy")) as busy:
        results = execute(
            [Request("run-1", "errors", "up", down), Request("run-1", "latency", "up", busy)]
        )
    assert [(r.run, r.metric, r.value) for r in results] == [
        ("run-1", "errors", None),
        ("run-1", "latency", None),
    ]
    assert results[0].error.startswith(f"Prometheus at {down} refused the connection")
    assert results[1].error.startswith(f"Prometheus at {busy} answered HTTP 503")
    assert execute([]) == []


def test_waiting_for_a_scrape_gives_up_with_the_reason() -> None:
    address = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(MeasurementError) as caught:
        wait_until_scraped(address, "model", timeout=0.3)
    message = str(caught.value)
    assert message.startswith(f"Prometheus at {address}: job 'model' not scraped within 0.3 s (")
    assert "\n" not in message


# --- a real Prometheus --------------------------------------------------------------------


@dataclass
class Scraped:
    prometheus: PrometheusHandle
    requests: Counter
    first_scrape_seconds: float


@pytest.fixture(scope="module")
def scraped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scraped]:
    """Prometheus scraping one exposition every second, its first scrape done."""
    registry = CollectorRegistry()
    requests = Counter(
        "kfops_test_requests", "Requests by variant.", ["variant", "status"], registry=registry
    )
    requests.labels("stable", "200").inc(30)
    requests.labels("candidate", "200").inc(8)
    requests.labels("candidate", "500").inc(2)
    server, thread = start_http_server(0, "127.0.0.1", registry)
    target = f"127.0.0.1:{server.server_address[1]}"
    try:
        with running_prometheus({"app": [target]}, tmp_path_factory.mktemp("prom")) as prom:
            started = time.monotonic()
            assert wait_until_scraped(prom.url, "app", timeout=30) == [f"http://{target}/metrics"]
            first = time.monotonic() - started
            print(
                f"\nprometheus ready in {prom.startup_seconds:.2f} s, first scrape {first:.2f} s later"
            )
            yield Scraped(prom, requests, first)
    finally:
        server.shutdown()
        thread.join(5)


@pytest.mark.slow
def test_a_scalar_query_returns_the_scraped_value(scraped: Scraped) -> None:
    url = scraped.prometheus.url
    assert query(url, "scalar(sum(kfops_test_requests_total))") == 40.0
    ratio = 'scalar(sum(kfops_test_requests_total{variant="candidate",status=~"5.."}))'
    assert query(url, f"{ratio} / 10") == 0.2


@pytest.mark.slow
@pytest.mark.parametrize("timeout", [0.5, 2, 10.0])
def test_any_timeout_is_passed_on_in_a_form_prometheus_accepts(scraped: Scraped, timeout) -> None:
    assert query(scraped.prometheus.url, "vector(1)", timeout) == [1.0]


@pytest.mark.slow
def test_a_vector_query_returns_every_series_in_prometheus_order(scraped: Scraped) -> None:
    url = scraped.prometheus.url
    assert query(url, "sort_desc(sum by (variant) (kfops_test_requests_total))") == [30.0, 10.0]
    assert query(url, 'kfops_test_requests_total{variant="nobody"}') == []


@pytest.mark.slow
def test_nan_and_infinity_come_back_as_floats(scraped: Scraped) -> None:
    url = scraped.prometheus.url
    assert math.isnan(query(url, "0/0"))
    (nan,) = query(url, 'sum(kfops_test_requests_total{variant="nobody"}) or vector(0) / 0')
    assert math.isnan(nan)
    assert query(url, "scalar(vector(1)) / 0") == math.inf


@pytest.mark.slow
def test_a_rate_over_counters_sees_the_increments(scraped: Scraped) -> None:
    """The candidate's 5xx counter grows every 0.2 s; the stable one stays put."""
    url = scraped.prometheus.url
    errors = 'sum(rate(kfops_test_requests_total{variant="%s",status="500"}[10s])) or vector(0)'
    deadline = time.monotonic() + 20
    rate = 0.0
    while time.monotonic() < deadline:
        scraped.requests.labels("candidate", "500").inc()
        (rate,) = query(url, errors % "candidate")
        if rate > 0:
            break
        time.sleep(0.2)
    assert rate > 0
    assert query(url, errors % "stable") == [0.0]


@pytest.mark.slow
def test_bad_promql_is_prometheus_own_error_on_one_line(scraped: Scraped) -> None:
    url = scraped.prometheus.url
    with pytest.raises(MeasurementError) as caught:
        query(url, "sum(rate(kfops_test_requests_total[1m])")
    assert str(caught.value) == (
        f"Prometheus at {url} rejected query 'sum(rate(kfops_test_requests_total[1m])': "
        'bad_data: invalid parameter "query": 1:40: parse error: unclosed left parenthesis'
    )


@pytest.mark.slow
def test_a_range_vector_is_refused(scraped: Scraped) -> None:
    with pytest.raises(MeasurementError, match=r"returned a range vector \(matrix\)"):
        query(scraped.prometheus.url, "kfops_test_requests_total[5s]")


@pytest.mark.slow
def test_execute_mixes_values_and_errors(scraped: Scraped) -> None:
    url = scraped.prometheus.url
    results = execute(
        [
            Request("r", "total", "scalar(sum(kfops_test_requests_total))", url),
            Request("r", "broken", "sum(", url),
            Request("r", "series", 'kfops_test_requests_total{variant="stable"}', url),
        ]
    )
    total = results[0]
    assert (total.run, total.metric, total.error) == ("r", "total", None)
    assert total.value >= 40.0  # the rate test may have added some
    assert results[1].value is None and "parse error" in results[1].error
    assert results[2] == Result("r", "series", [30.0], None)


# --- real kfops model servers -------------------------------------------------------------


@pytest.fixture(scope="module")
def model_folders(tmp_path_factory: pytest.TempPathFactory):
    from tests.support.model_servers import build_model_folders

    started = time.monotonic()
    folders = build_model_folders(tmp_path_factory.mktemp("models"))
    print(f"\nmodel folders saved in {time.monotonic() - started:.1f} s")
    return folders


@pytest.mark.slow
def test_the_three_model_servers_behave_and_are_scraped(model_folders, tmp_path: Path) -> None:
    """healthy answers 200, erroring 500 and stays up, slow takes at least its delay;
    Prometheus sees each server's requests under its variant label."""
    from tests.support.model_servers import (
        ERRORING,
        HEALTHY,
        SLOW,
        SLOW_DELAY_S,
        feature_rows,
        start_model_servers,
    )

    started = time.monotonic()
    servers = start_model_servers(
        [(model_folders[b], b) for b in (HEALTHY, ERRORING, SLOW)], log_dir=tmp_path
    )
    try:
        print(
            f"\nthree kfops serve processes ready in "
            f"{time.monotonic() - started:.1f} s ("
            + ", ".join(f"{s.variant} {s.startup_seconds:.1f} s" for s in servers)
            + ")"
        )
        healthy, erroring, slow = servers
        body = {"instances": feature_rows(2)}
        answer = httpx.post(healthy.predict_url, json=body, timeout=30)
        assert answer.status_code == 200 and len(answer.json()["predictions"]) == 2
        for _ in range(2):  # the second request shows the server survived the first
            failed = httpx.post(erroring.predict_url, json=body, timeout=30)
            assert failed.status_code == 500
            assert "InjectedFault" in failed.json()["error"]
        assert httpx.get(erroring.url + "/v2/health/ready", timeout=5).status_code == 200
        before = time.monotonic()
        assert httpx.post(slow.predict_url, json=body, timeout=30).status_code == 200
        assert time.monotonic() - before >= SLOW_DELAY_S

        targets = {s.variant: [s.target] for s in servers}
        with running_prometheus(targets, tmp_path / "prom") as prom:
            for server in servers:
                wait_until_scraped(prom.url, server.variant, timeout=30)
            by_status = query(
                prom.url,
                'sort(sum by (variant, status) (kfops_serving_requests_total{protocol="v1"}))',
            )
            assert sorted(by_status) == [1.0, 1.0, 2.0]
            errors = 'sum(kfops_serving_requests_total{variant="erroring",status=~"5.."})'
            assert query(prom.url, errors) == [2.0]
    finally:
        for server in servers:
            server.stop()
    assert all(server.process.returncode == 0 for server in servers)


@pytest.mark.slow
def test_a_registered_version_is_served_in_process(model_folders, tmp_path: Path) -> None:
    """register_versions gives versions kfops serve verifies; champion points at the first."""
    from kfops.registry.versions import aliases
    from tests.support.model_servers import (
        ERRORING,
        HEALTHY,
        MODEL_NAME,
        feature_rows,
        register_versions,
        start_model_server,
    )

    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    versions = register_versions(
        store, MODEL_NAME, [model_folders[HEALTHY], model_folders[ERRORING]]
    )
    assert versions == ["1", "2"]
    assert aliases(MODEL_NAME) == {"champion": "1", "challenger": "2"}
    candidate = f"models:/{MODEL_NAME}/2"
    with start_model_server(candidate, "candidate", in_process=True, tracking_uri=store) as server:
        print(f"\nin-process kfops server ready in {server.startup_seconds:.2f} s")
        failed = httpx.post(server.predict_url, json={"instances": feature_rows(1)}, timeout=30)
        assert failed.status_code == 500
        metrics = httpx.get(server.url + "/metrics", timeout=5).text
    assert 'status="500",variant="candidate",version="2"' in metrics
