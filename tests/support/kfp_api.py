"""A recording emulator of the KFP v2beta1 REST API, and its pytest fixtures.

The emulator serves, on 127.0.0.1 and an ephemeral port, the endpoints ``kfp.Client``
calls to submit a run or a recurring run:

    GET  /apis/v2beta1/healthz
    GET  /apis/v2beta1/experiments        (filter on display_name, namespace)
    POST /apis/v2beta1/experiments
    POST /apis/v2beta1/runs
    POST /apis/v2beta1/recurringruns

It records every request (method, path, query, JSON body, headers) so tests can assert on
the exact objects sent, and can be told to answer one route with an HTTP error. The
fixtures are imported by the conftest of each test folder that talks to KFP.
"""

from __future__ import annotations

import itertools
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.support.http_server import Request, json_server

API = "/apis/v2beta1"


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    headers: dict[str, str]

    @property
    def route(self) -> tuple[str, str]:
        return self.method, self.path


@dataclass
class KfpApiEmulator:
    """State and routing of the emulated API; the HTTP plumbing is in ``_Handler``."""

    url: str = ""
    multi_user: bool = False
    requests: list[Recorded] = field(default_factory=list)
    experiments: list[dict[str, Any]] = field(default_factory=list)
    failures: dict[tuple[str, str], tuple[int, str]] = field(default_factory=dict)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def fail(self, method: str, path: str, status: int, message: str) -> None:
        """Answer ``method path`` with ``status`` and a KFP-style error body from now on."""
        self.failures[(method, path)] = (status, message)

    def routes(self) -> list[tuple[str, str]]:
        return [r.route for r in self.requests]

    def only(self, method: str, path: str) -> Recorded:
        matches = [r for r in self.requests if r.route == (method, path)]
        assert len(matches) == 1, f"expected one {method} {path}, got {self.routes()}"
        return matches[0]

    def handle(self, record: Recorded) -> tuple[int, dict[str, Any]]:
        with self._lock:
            self.requests.append(record)
            if record.route in self.failures:
                status, message = self.failures[record.route]
                return status, {"error": message, "code": 13, "message": message, "details": []}
            return self._dispatch(record)

    def _dispatch(self, record: Recorded) -> tuple[int, dict[str, Any]]:
        route, body = record.route, record.body or {}
        if route == ("GET", f"{API}/healthz"):
            return 200, {"multi_user": self.multi_user}
        if route == ("GET", f"{API}/experiments"):
            return 200, self._list_experiments(record.query)
        if route == ("POST", f"{API}/experiments"):
            experiment = {
                "experiment_id": f"exp-{next(self._ids)}",
                "display_name": body.get("display_name"),
                "namespace": body.get("namespace") or "",
            }
            self.experiments.append(experiment)
            return 200, experiment
        if route in (("POST", f"{API}/runs"), ("POST", f"{API}/recurringruns")):
            known = {e["experiment_id"] for e in self.experiments}
            if body.get("experiment_id") not in known:
                message = f"experiment {body.get('experiment_id')} not found"
                return 404, {"error": message, "code": 5, "message": message}
            if route[1].endswith("/runs"):
                return 200, {**body, "run_id": f"run-{next(self._ids)}", "state": "PENDING"}
            return 200, {**body, "recurring_run_id": f"rr-{next(self._ids)}", "status": "ENABLED"}
        message = f"no route {record.method} {record.path}"
        return 404, {"error": message, "code": 5, "message": message}

    def _list_experiments(self, query: dict[str, list[str]]) -> dict[str, Any]:
        found = list(self.experiments)
        namespace = query.get("namespace", [""])[0]
        if namespace:
            found = [e for e in found if e["namespace"] == namespace]
        for predicate in json.loads(query.get("filter", ["{}"])[0]).get("predicates", []):
            key, value = predicate["key"], predicate.get("stringValue")
            found = [e for e in found if e.get(key) == value]
        return {"experiments": found, "total_size": len(found)} if found else {}


@pytest.fixture
def kfp_context(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    """Keep kfp.Client away from the developer's ~/.config/kfp and KF_PIPELINES_* settings."""
    import kfp

    monkeypatch.setattr(kfp.Client, "_LOCAL_KFP_CONTEXT", str(tmp_path / "kfp" / "context.json"))
    for name in (
        "KF_PIPELINES_ENDPOINT",
        "KF_PIPELINES_UI_ENDPOINT",
        "KF_PIPELINES_DEFAULT_EXPERIMENT_NAME",
        "KF_PIPELINES_OVERRIDE_EXPERIMENT_NAME",
        "KF_PIPELINES_IAP_OAUTH2_CLIENT_ID",
        "KF_PIPELINES_APP_OAUTH2_CLIENT_ID",
        "KF_PIPELINES_APP_OAUTH2_CLIENT_SECRET",
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def kfp_api(kfp_context: None) -> Iterator[KfpApiEmulator]:
    """A running emulator; ``kfp_api.url`` is its base URL."""
    emulator = KfpApiEmulator()

    def respond(request: Request) -> tuple[int, Any]:
        return emulator.handle(
            Recorded(
                method=request.method,
                path=request.path,
                query=request.query,
                body=request.json(),
                headers=request.headers,
            )
        )

    with json_server(respond) as url:
        emulator.url = url
        yield emulator


@pytest.fixture
def closed_port_url(kfp_context: None) -> str:
    """URL of a 127.0.0.1 port with nothing listening (connections are refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"
