"""Fixtures for the cluster tests: a recording emulator of the KFP v2beta1 REST API.

The emulator serves, on 127.0.0.1 and an ephemeral port, the endpoints ``kfp.Client``
calls to submit a run or a recurring run:

    GET  /apis/v2beta1/healthz
    GET  /apis/v2beta1/experiments        (filter on display_name, namespace)
    POST /apis/v2beta1/experiments
    POST /apis/v2beta1/runs
    POST /apis/v2beta1/recurringruns

It records every request (method, path, query, JSON body, headers) so tests can assert on
the exact objects sent, and can be told to answer one route with an HTTP error.
"""

from __future__ import annotations

import itertools
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

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


class _Handler(BaseHTTPRequestHandler):
    emulator: KfpApiEmulator  # set on a per-server subclass

    def _serve(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body = json.loads(raw) if raw else None
        record = Recorded(
            method=self.command,
            path=parts.path,
            query=parse_qs(parts.query),
            body=body,
            headers={k.lower(): v for k, v in self.headers.items()},
        )
        status, payload = self.emulator.handle(record)
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_DELETE = do_PATCH = _serve

    def log_message(self, format: str, *args: Any) -> None:  # keep pytest output clean
        pass


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
    handler = type("Handler", (_Handler,), {"emulator": emulator})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    emulator.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield emulator
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def closed_port_url(kfp_context: None) -> str:
    """URL of a 127.0.0.1 port with nothing listening (connections are refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"
