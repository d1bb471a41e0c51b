"""A JSON HTTP server on 127.0.0.1 for tests that emulate an API and record requests.

The emulators (KFP, Katib, Kubernetes) decide the answers; this module only does the
HTTP plumbing: read the request, ask ``respond``, write the JSON answer.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    raw_query: str
    headers: dict[str, str]  # names lower-cased
    raw_body: bytes

    @property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(self.raw_query)

    def json(self) -> Any:
        return json.loads(self.raw_body) if self.raw_body else None


Respond = Callable[[Request], tuple[int, Any]]


@contextmanager
def json_server(respond: Respond) -> Iterator[str]:
    """Serve ``respond`` on an ephemeral 127.0.0.1 port; yields the base URL."""

    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            path, _, query = self.path.partition("?")
            request = Request(
                method=self.command,
                path=path,
                raw_query=query,
                headers={k.lower(): v for k, v in self.headers.items()},
                raw_body=self.rfile.read(length) if length else b"",
            )
            status, payload = respond(request)
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

        def log_message(self, format: str, *args: Any) -> None:  # keep pytest output clean
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
