"""The rollout router against real HTTP upstreams on 127.0.0.1 that answer with their name."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from kfops.errors import ConfigurationError
from kfops.rollout.engine.actions import CANDIDATE, STABLE, SetTraffic
from kfops.rollout.router.proxy import RouterHandle, start_router
from kfops.rollout.router.split import Splitter, field_key, parse_traffic, sticky_bucket
from tests.support.http_server import Request, json_server

REPO = Path(__file__).resolve().parents[3]
PREDICT = "/v1/models/churn:predict"
ROW = {"instances": [{"tenure": 3}]}


@dataclass
class Upstream:
    """A model-server stand-in: answers with its name and records what it received."""

    name: str
    url: str = ""
    requests: list[Request] = field(default_factory=list)
    before_answer: Callable[[], None] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def respond(self, request: Request) -> tuple[int, object]:
        with self.lock:
            self.requests.append(request)
        if self.before_answer is not None:
            self.before_answer()
        return 200, {"served_by": self.name, "path": request.path, "query": request.raw_query}

    def count(self) -> int:
        with self.lock:
            return len(self.requests)


@dataclass
class Setup:
    router: RouterHandle
    client: httpx.Client
    stable: Upstream
    candidate: Upstream

    def put(self, **traffic: object) -> httpx.Response:
        return self.client.put(f"{self.router.url}/router/traffic", json=traffic)

    def predict(self, body: object = ROW, headers: dict[str, str] | None = None) -> httpx.Response:
        return self.client.post(f"{self.router.url}{PREDICT}", json=body, headers=headers)

    def samples(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        text = self.client.get(f"{self.router.url}/metrics").text
        return {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples
        }

    def sample(self, name: str, **labels: str) -> float:
        return self.samples().get((name, tuple(sorted(labels.items()))), 0.0)


def closed_port_url() -> str:
    """A loopback URL nothing listens on (the port was free a moment ago)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@contextmanager
def routed(
    stable_url: str | None = None, candidate_url: str | None = None, **options: object
) -> Iterator[Setup]:
    """Two recording upstreams (unless URLs are given) behind a router, and a client."""
    stable, candidate = Upstream(STABLE), Upstream(CANDIDATE)
    with ExitStack() as stack:
        stable.url = stable_url or stack.enter_context(json_server(stable.respond))
        candidate.url = candidate_url or stack.enter_context(json_server(candidate.respond))
        router = stack.enter_context(start_router(stable.url, candidate.url, **options))
        client = stack.enter_context(httpx.Client(timeout=30))
        yield Setup(router, client, stable, candidate)


def wait_for(condition: Callable[[], bool], what: str) -> None:
    """Polls a condition the background work will make true (bounded, not a timing claim)."""
    for _ in range(400):
        if condition():
            return
        time.sleep(0.025)
    raise AssertionError(f"still waiting for {what}")


# -- the pure decisions ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("weight", "n", "expected"),
    [(0, 100, 0), (1, 49, 0), (1, 50, 1), (1, 100, 1), (20, 2, 0), (20, 3, 1), (20, 100, 20),
     (50, 1, 1), (50, 100, 50), (99, 100, 99), (100, 1, 1), (100, 100, 100), (33, 1000, 330)],
)  # fmt: skip
def test_weighted_split_gives_the_rounded_share_exactly(weight: int, n: int, expected: int) -> None:
    splitter = Splitter(SetTraffic(candidate_weight=weight))
    assert [splitter.weighted() for _ in range(n)].count(CANDIDATE) == expected


def test_any_hundred_consecutive_requests_hold_exactly_the_weight() -> None:
    splitter = Splitter(SetTraffic(candidate_weight=37))
    choices = [splitter.weighted() == CANDIDATE for _ in range(1000)]
    assert {sum(choices[i : i + 100]) for i in range(900)} == {37}


def test_a_repeated_state_keeps_the_counter_and_a_new_weight_restarts_it() -> None:
    splitter = Splitter(SetTraffic(candidate_weight=20))
    seen = []
    for _ in range(5):
        splitter.update(SetTraffic(candidate_weight=20))  # a resumed controller repeats itself
        seen.append(splitter.weighted())
    assert seen.count(CANDIDATE) == 1
    splitter.update(SetTraffic(candidate_weight=50))
    assert splitter.weighted() == CANDIDATE  # 50 + 50 reaches 100 at once


def test_sticky_buckets_are_stable_even_and_monotone_in_the_weight() -> None:
    keys = [f"user-{i}" for i in range(4000)]
    assert [sticky_bucket(k) for k in keys[:50]] == [sticky_bucket(k) for k in keys[:50]]
    at = {w: {k for k in keys if sticky_bucket(k) < w} for w in (10, 30, 50)}
    assert 0.27 < len(at[30]) / len(keys) < 0.33
    assert at[10] <= at[30] <= at[50]  # raising the weight only moves subjects to the candidate
    splitter = Splitter(SetTraffic(candidate_weight=30, sticky_header="x-user"))
    assert splitter.choose("user-1") == splitter.choose("user-1")
    assert splitter.choose(None)[1] == "fallback"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"user": "u-1", "instances": [{"user": "u-2"}]}', "u-1"),
        (b'{"instances": [{"user": "u-2", "x": 1}, {"user": "u-3"}]}', "u-2"),
        (b'{"instances": [{"user": 42}]}', "42"),
        (b'{"inputs": [{"name": "x", "data": [1]}, {"name": "user", "data": [["u-4"]]}]}', "u-4"),
        (b'{"instances": [[1, 2]]}', None),
        (b'{"instances": [{"x": 1}]}', None),
        (b'{"user": null}', None),
        (b'{"user": ""}', None),
        (b"not json", None),
        (b"[1, 2]", None),
    ],
)
def test_the_sticky_field_is_found_at_the_top_in_v1_instances_and_v2_inputs(
    body: bytes, expected: str | None
) -> None:
    assert field_key(body, "user") == expected


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"candidateWeight": 101}, "candidateWeight"),
        ({"candidateWeight": -1}, "candidateWeight"),
        ({"candidateWeight": "20"}, "candidateWeight"),
        ({"candidateWeight": True}, "candidateWeight"),
        ({"candidateWeight": 20.5}, "candidateWeight"),
        ({"candidateWeight": 20, "mirrorPercent": 200}, "mirrorPercent"),
        ({"candidateWeight": 20, "stickyHeader": ""}, "stickyHeader"),
        ({"candidateWeight": 20, "stickyField": 3}, "stickyField"),
        ({"candidateWeight": 20, "weight": 3}, "'weight'"),
        ({"mirrorPercent": 10}, "candidateWeight is required"),
        ([20], "JSON object"),
    ],
)
def test_bad_traffic_states_name_the_field(body: object, named: str) -> None:
    with pytest.raises(ConfigurationError, match=named):
        parse_traffic(body)


# -- the proxy over HTTP -----------------------------------------------------------------------------


@pytest.mark.parametrize("weight", [0, 20, 50, 100])
def test_the_split_over_http_is_exact(weight: int) -> None:
    with routed() as s:
        assert s.put(candidateWeight=weight).status_code == 200
        answers = [s.predict() for _ in range(100)]
        variants = [a.headers["x-kfops-variant"] for a in answers]
        assert all(a.status_code == 200 for a in answers)
        assert [a.json()["served_by"] for a in answers] == variants
        assert variants.count(CANDIDATE) == weight
        assert (s.candidate.count(), s.stable.count()) == (weight, 100 - weight)
        assert (
            s.sample("kfops_router_assignments_total", assignment="weighted", variant=CANDIDATE)
            == weight
        )


def test_the_upstream_receives_the_request_as_sent() -> None:
    with routed(initial=SetTraffic(candidate_weight=0)) as s:
        answer = s.predict(headers={"x-request-id": "abc"})
        (seen,) = s.stable.requests
        assert (seen.method, seen.path, seen.json()) == ("POST", PREDICT, ROW)
        assert seen.headers["x-request-id"] == "abc"
        assert answer.headers["content-type"] == "application/json"


def test_get_metadata_passes_through_with_its_query() -> None:
    with routed(initial=SetTraffic(candidate_weight=100)) as s:
        answer = s.client.get(f"{s.router.url}/v2/models/churn?verbose=1")
        assert answer.status_code == 200
        assert answer.json() == {
            "served_by": CANDIDATE,
            "path": "/v2/models/churn",
            "query": "verbose=1",
        }
        assert answer.headers["x-kfops-variant"] == CANDIDATE
        assert (
            s.sample(
                "kfops_router_requests_total",
                variant=CANDIDATE,
                role="served",
                kind="other",
                code="200",
            )
            == 1
        )


def test_sticky_header_pins_each_subject_to_the_variant_of_its_bucket() -> None:
    with routed() as s:
        s.put(candidateWeight=50, stickyHeader="x-user")
        users = [f"user-{i}" for i in range(30)]
        for _ in range(3):
            for user in users:
                variant = s.predict(headers={"X-User": user}).headers["x-kfops-variant"]
                assert variant == (CANDIDATE if sticky_bucket(user) < 50 else STABLE), user
        assert (
            s.sample("kfops_router_assignments_total", assignment="sticky", variant=STABLE)
            + s.sample("kfops_router_assignments_total", assignment="sticky", variant=CANDIDATE)
            == 90
        )


def test_sticky_field_reads_the_first_v1_instance_and_falls_back_without_it() -> None:
    with routed() as s:
        s.put(candidateWeight=20, stickyField="customer_id")
        for customer in ("c-1", "c-2", "c-3", "c-4", "c-5", "c-6"):
            expected = CANDIDATE if sticky_bucket(customer) < 20 else STABLE
            body = {"instances": [{"customer_id": customer, "tenure": 3}]}
            assert {s.predict(body).headers["x-kfops-variant"] for _ in range(3)} == {expected}
        fallback = [s.predict().headers["x-kfops-variant"] for _ in range(100)]
        assert fallback.count(CANDIDATE) == 20  # the weighted split, exact as ever
        fell_back = sum(
            s.sample("kfops_router_assignments_total", assignment="fallback", variant=v)
            for v in (STABLE, CANDIDATE)
        )
        assert fell_back == 100


def test_mirroring_copies_stable_requests_and_the_client_sees_only_stable() -> None:
    with routed() as s:
        s.put(candidateWeight=0, mirrorPercent=50)
        answers = [s.predict({"instances": [{"n": i}]}) for i in range(20)]
        assert {a.json()["served_by"] for a in answers} == {STABLE}
        assert {a.headers["x-kfops-variant"] for a in answers} == {STABLE}
        wait_for(lambda: s.candidate.count() == 10, "10 mirrored copies")
        copied = sorted(r.json()["instances"][0]["n"] for r in s.candidate.requests)
        assert copied == list(range(0, 20, 2))  # every other request, the first one included
        assert s.client.get(f"{s.router.url}/v2/health/ready").status_code == 200
        assert s.candidate.count() == 10  # health checks are not mirrored
        wait_for(
            lambda: s.sample("kfops_router_requests_total", variant=CANDIDATE, role="mirror", kind="predict", code="200") == 10,
            "the mirror counter",
        )  # fmt: skip


def test_a_failing_candidate_never_reaches_the_mirroring_client() -> None:
    with routed(candidate_url=closed_port_url()) as s:
        s.put(candidateWeight=0, mirrorPercent=100)
        answers = [s.predict() for _ in range(10)]
        assert [a.status_code for a in answers] == [200] * 10
        assert {a.json()["served_by"] for a in answers} == {STABLE}
        wait_for(
            lambda: s.sample("kfops_router_requests_total", variant=CANDIDATE, role="mirror", kind="predict", code="502") == 10,
            "ten failed mirrors counted",
        )  # fmt: skip


def test_a_slow_candidate_holds_at_most_the_bound_and_the_rest_is_dropped() -> None:
    release = threading.Event()
    with routed(mirror_limit=2) as s:
        s.candidate.before_answer = lambda: release.wait(timeout=60)
        s.put(candidateWeight=0, mirrorPercent=100)
        try:
            answers = [s.predict() for _ in range(10)]
            assert {(a.status_code, a.json()["served_by"]) for a in answers} == {(200, STABLE)}
            assert s.sample("kfops_router_mirror_dropped_total") == 8
            assert s.sample("kfops_router_mirror_inflight") == 2
        finally:
            release.set()
        wait_for(lambda: s.sample("kfops_router_mirror_inflight") == 0, "the mirrors to finish")
        assert s.candidate.count() == 2


def test_a_down_upstream_is_a_502_with_a_message_and_the_other_still_answers() -> None:
    down = closed_port_url()
    with routed(candidate_url=down, initial=SetTraffic(candidate_weight=50)) as s:
        answers = [s.predict() for _ in range(4)]
        assert [a.headers["x-kfops-variant"] for a in answers] == [CANDIDATE, STABLE] * 2
        failed, served = answers[0], answers[1]
        assert failed.status_code == 502
        assert "candidate upstream" in failed.json()["error"] and down in failed.json()["error"]
        assert "\n" not in failed.json()["error"]
        assert (served.status_code, served.json()["served_by"]) == (200, STABLE)
        assert (
            s.sample(
                "kfops_router_requests_total",
                variant=CANDIDATE,
                role="served",
                kind="predict",
                code="502",
            )
            == 2
        )


@pytest.mark.parametrize(
    ("body", "named"),
    [
        (b'{"candidateWeight": 150}', "candidateWeight"),
        (b'{"candidateWeight": 10, "mirrorPercent": "x"}', "mirrorPercent"),
        (b'{"candidateWeight": 10, "stickyHeader": 5}', "stickyHeader"),
        (b'{"candidateWeight": 10, "canary": 5}', "canary"),
        (b"{not json", "not JSON"),
    ],
)
def test_the_admin_api_rejects_bad_states_with_a_one_line_message(body: bytes, named: str) -> None:
    with routed(initial=SetTraffic(candidate_weight=10)) as s:
        answer = s.client.put(f"{s.router.url}/router/traffic", content=body)
        assert answer.status_code == ConfigurationError.http_status
        message = answer.json()["error"]
        assert named in message and "\n" not in message
        assert s.client.get(f"{s.router.url}/router/traffic").json()["candidateWeight"] == 10


def test_the_admin_api_reads_and_replaces_the_whole_state() -> None:
    with routed() as s:
        state = {
            "candidateWeight": 30,
            "mirrorPercent": 5,
            "stickyHeader": "x-user",
            "stickyField": None,
        }
        assert s.client.put(f"{s.router.url}/router/traffic", json=state).json() == state
        assert s.client.get(f"{s.router.url}/router/traffic").json() == state
        assert s.put(candidateWeight=40).json()["stickyHeader"] is None
        assert s.client.post(f"{s.router.url}/router/traffic", json=state).status_code == 405
        assert s.client.get(f"{s.router.url}/router/healthz").status_code == 200
        assert (
            s.sample("kfops_router_candidate_weight"),
            s.sample("kfops_router_mirror_percent"),
        ) == (40, 0)


def test_metrics_count_each_variant_and_time_it() -> None:
    with routed(initial=SetTraffic(candidate_weight=20)) as s:
        for _ in range(50):
            s.predict()
        s.client.post(f"{s.router.url}/v2/models/churn/infer", json={"inputs": []})
        text = s.client.get(f"{s.router.url}/metrics").text
        assert (
            'kfops_router_requests_total{code="200",kind="predict",role="served",variant="candidate"} 10.0'
            in text
        )
        assert (
            'kfops_router_requests_total{code="200",kind="predict",role="served",variant="stable"} 40.0'
            in text
        )
        assert (
            s.sample(
                "kfops_router_requests_total",
                variant=STABLE,
                role="served",
                kind="infer",
                code="200",
            )
            == 1
        )
        count = s.sample(
            "kfops_router_request_duration_seconds_count",
            variant=CANDIDATE,
            role="served",
            kind="predict",
        )
        assert count == 10
        assert 'le="0.001"' in text and 'le="5.0"' in text
        assert s.sample("kfops_router_candidate_weight") == 20


def test_the_state_file_survives_a_restart(tmp_path: Path) -> None:
    state_file = tmp_path / "router" / "traffic.json"
    with routed(state_file=state_file) as s:
        s.put(candidateWeight=30, stickyField="user")
        stable_url, candidate_url = s.stable.url, s.candidate.url
        assert json.loads(state_file.read_text())["candidateWeight"] == 30
        with start_router(
            stable_url, candidate_url, initial=SetTraffic(0), state_file=state_file
        ) as again:
            restored = httpx.get(f"{again.url}/router/traffic").json()
    assert restored == {
        "candidateWeight": 30,
        "mirrorPercent": 0,
        "stickyHeader": None,
        "stickyField": "user",
    }
    state_file.write_text('{"candidateWeight": 300}')
    with pytest.raises(ConfigurationError, match="traffic.json.*candidateWeight"):
        start_router(stable_url, candidate_url, state_file=state_file)


def test_bad_upstream_urls_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="--candidate must be an http URL"):
        start_router("http://127.0.0.1:8081", "127.0.0.1:8082")


def test_the_module_cli_prints_its_port_and_stops_on_sigterm() -> None:
    with routed() as s:
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        command = [sys.executable, "-m", "kfops.rollout.router.proxy", "--stable", s.stable.url,
                   "--candidate", s.candidate.url, "--port", "0", "--candidate-weight", "100"]  # fmt: skip
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        )
        try:
            line = process.stdout.readline()
            assert line.startswith("kfops router listening on http://127.0.0.1:"), line
            url = line.split()[-1]
            assert httpx.post(f"{url}{PREDICT}", json=ROW).json()["served_by"] == CANDIDATE
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=30) == 0
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
            process.stdout.close()
            process.stderr.close()
