"""A Kubernetes API stand-in that records what a client sent: :func:`recording` serves a
script of answers on 127.0.0.1 (:func:`tests.support.http_server.json_server`) and keeps
every request, in order, for the test to check."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from kfops.cluster.kube_client import api_client
from tests.support.http_server import Request, Respond, json_server


@dataclass
class Recorder:
    """The requests a client sent to :func:`recording`, and its base URL."""

    url: str
    requests: list[Request]

    def client(self) -> Any:
        """A ``kubernetes`` ApiClient pointed at this server."""
        return api_client(self.url)

    def sent(self) -> list[tuple[str, str, str | None, Any]]:
        """(method, path, content type, JSON body) of each request, in order; a GET's
        content type is None (the client sends its default on every request)."""
        return [
            (r.method, r.path, None if r.method == "GET" else r.headers["content-type"], r.json())
            for r in self.requests
        ]


def _ok(request: Request) -> tuple[int, Any]:
    return 200, {}


@contextmanager
def recording(respond: Respond = _ok) -> Iterator[Recorder]:
    """Serve ``respond`` (default: 200 ``{}``) on 127.0.0.1, recording every request before
    it answers."""
    requests: list[Request] = []

    def answer(request: Request) -> tuple[int, Any]:
        requests.append(request)
        return respond(request)

    with json_server(answer) as url:
        yield Recorder(url, requests)
