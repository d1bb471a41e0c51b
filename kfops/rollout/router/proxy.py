"""The local traffic router of a rollout: one port in front of the stable and candidate servers.

On a laptop a rollout runs two ``kfops serve`` processes; this reverse proxy (aiohttp
server and a keep-alive pooled aiohttp client on uvloop, chosen by measuring, see
``benchmarks/router.py``) splits traffic between them as the controller's last
:class:`~kfops.rollout.engine.actions.SetTraffic` says. Every path is proxied except three:

- ``GET /metrics``: the router's Prometheus metrics (text format);
- ``GET|PUT /router/traffic``: the traffic state as JSON,
  ``{"candidateWeight": 20, "mirrorPercent": 0, "stickyHeader": null, "stickyField": null}``;
  a PUT replaces the whole state (400 with ``{"error": "..."}`` naming the field otherwise);
- ``GET /router/healthz``: 200 while the router runs (it does not probe the upstreams).

A request's variant (see :mod:`kfops.rollout.router.split` for the arithmetic): by a
deterministic weighted split (error diffusion: exactly 20 of any 100 consecutive requests
at weight 20), or, with ``stickyHeader``/``stickyField`` set, by a hash of the key (one
subject, one variant; requests without the key fall back to the weighted split).

Mirroring: ``mirror_percent`` percent (same error diffusion) of the predict and infer
requests routed to stable are also sent to the candidate in the background. The client
only ever gets stable's answer; at most ``mirror_limit`` copies are in flight, further
ones are dropped and counted, and a mirror's failure is only counted.

Proxied answers carry ``x-kfops-variant: stable|candidate``. An upstream that cannot be
reached, or breaks the connection, is answered 502 (504 on timeout) with a one-line
``{"error": ...}`` and counted under that code.

Metrics (own registry; ``variant`` is stable|candidate, ``role`` served|mirror, ``kind``
predict (V1 ``...:predict``), infer (V2 ``.../infer``) or other):

- ``kfops_router_requests_total{variant,role,kind,code}``
- ``kfops_router_request_duration_seconds{variant,role,kind}`` (histogram, 1 ms .. 5 s)
- ``kfops_router_assignments_total{assignment,variant}``, assignment weighted|sticky|fallback
- ``kfops_router_mirror_dropped_total``, ``kfops_router_mirror_inflight``
- ``kfops_router_candidate_weight``, ``kfops_router_mirror_percent`` (gauges)

For example, the candidate's error rate over 10 s and its p95 latency::

    sum(rate(kfops_router_requests_total{variant="candidate",role="served",code=~"5.."}[10s]))
      / sum(rate(kfops_router_requests_total{variant="candidate",role="served"}[10s]))
    histogram_quantile(0.95, sum by (le) (rate(
      kfops_router_request_duration_seconds_bucket{variant="candidate",role="served"}[10s])))
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from aiohttp import ClientError, ClientSession, ClientTimeout, TCPConnector, web
from multidict import CIMultiDict
from prometheus_client import CONTENT_TYPE_LATEST
from yarl import URL

from kfops.errors import ConfigurationError, exit_on_error
from kfops.rollout.engine.actions import CANDIDATE, STABLE, SetTraffic
from kfops.rollout.router.metrics import MIRROR, OTHER, SERVED, RouterMetrics
from kfops.rollout.router.split import (
    Splitter,
    check_traffic,
    field_key,
    parse_traffic,
    request_kind,
    traffic_json,
)

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
TRAFFIC_PATH, HEALTH_PATH, METRICS_PATH = "/router/traffic", "/router/healthz", "/metrics"
VARIANT_HEADER = "x-kfops-variant"
# Headers that describe one connection, not the message, so a proxy must not forward them.
HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
     "transfer-encoding", "upgrade", "host", "content-length"}
)  # fmt: skip


# -- state persistence ----------------------------------------------------------------------------


def load_state(path: Path) -> SetTraffic | None:
    """The state a previous router saved at ``path``, or None if there is no such file."""
    if not path.is_file():
        return None
    try:
        return parse_traffic(json.loads(path.read_text()))
    except (ValueError, ConfigurationError) as exc:
        raise ConfigurationError(
            f"router state file {path}: {exc}; fix or delete the file"
        ) from exc


def save_state(path: Path, state: SetTraffic) -> None:
    """Writes atomically (temporary file, then rename), so a crash never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(traffic_json(state)) + "\n")
    os.replace(temporary, path)


# -- the proxy ---------------------------------------------------------------------------------------


def _upstream(url: str, role: str) -> str:
    parsed = URL(url)
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ConfigurationError(
            f"router: --{role} must be an http URL like http://127.0.0.1:8081, got {url!r}"
        )
    return url.rstrip("/")


def _json(status: int, payload: Any, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        body=orjson.dumps(payload), status=status, content_type="application/json", headers=headers
    )


@dataclass
class _Answer:
    status: int
    headers: CIMultiDict[str]
    body: bytes


class Router:
    """The proxy: aiohttp's low-level server (no routing table) and one pooled client session.

    The first state is the one saved in ``state_file`` if that file exists (a restarted
    router keeps its weights), else ``initial``, else all traffic to stable. Every accepted
    PUT is saved there again.
    """

    def __init__(
        self,
        stable_url: str,
        candidate_url: str,
        *,
        initial: SetTraffic | None = None,
        state_file: Path | None = None,
        timeout: float = 30.0,
        mirror_timeout: float = 10.0,
        mirror_limit: int = 64,
        max_body_bytes: int = 8 * 1_048_576,
        grace_period: float = 10.0,
    ) -> None:
        self.upstreams = {
            STABLE: _upstream(stable_url, "stable"),
            CANDIDATE: _upstream(candidate_url, "candidate"),
        }
        self.state_file = state_file
        saved = load_state(state_file) if state_file is not None else None
        self.splitter = Splitter(saved or initial or SetTraffic(candidate_weight=0))
        self.metrics = RouterMetrics()
        self._set_gauges()
        self.timeout, self.mirror_timeout = (
            ClientTimeout(total=timeout),
            ClientTimeout(total=mirror_timeout),
        )
        self.mirror_limit, self.max_body_bytes = mirror_limit, max_body_bytes
        self.grace_period = grace_period
        self._mirrors: set[asyncio.Task[None]] = set()
        self._session: ClientSession | None = None
        self._runner: web.ServerRunner | None = None
        self.port = 0

    @property
    def state(self) -> SetTraffic:
        return self.splitter.state

    def set_traffic(self, state: SetTraffic) -> None:
        self.splitter.update(state)
        self._set_gauges()
        if self.state_file is not None:
            save_state(self.state_file, state)

    def _set_gauges(self) -> None:
        self.metrics.candidate_weight.set(self.state.candidate_weight)
        self.metrics.mirror_percent.set(self.state.mirror_percent)

    async def start(self, host: str = LOOPBACK, port: int = 0) -> int:
        """Binds and serves; returns the bound port (useful with ``port=0``)."""
        # keepalive_timeout stays below uvicorn's default 5 s, so the router closes an idle
        # pooled connection before the server does (a POST on a closing one would fail).
        connector = TCPConnector(limit=1024, keepalive_timeout=4.0)
        self._session = ClientSession(connector=connector, auto_decompress=False, cookie_jar=None)

        def make_request(
            message: Any, payload: Any, protocol: Any, writer: Any, task: Any
        ) -> web.BaseRequest:
            return web.BaseRequest(
                message, payload, protocol, writer, task, asyncio.get_running_loop(),
                client_max_size=self.max_body_bytes,
            )  # fmt: skip

        server = web.Server(self.handle, request_factory=make_request)
        self._runner = web.ServerRunner(server, access_log=None, shutdown_timeout=self.grace_period)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        self.port = self._runner.addresses[0][1]
        log.info(
            "router on http://%s:%d: stable %s, candidate %s",
            host,
            self.port,
            *self.upstreams.values(),
        )
        return self.port

    async def stop(self) -> None:
        """Stops listening, lets in-flight requests finish (grace period), drops the mirrors."""
        if self._runner is not None:
            await self._runner.cleanup()
        for task in list(self._mirrors):
            task.cancel()
        await asyncio.gather(*self._mirrors, return_exceptions=True)
        if self._session is not None:
            await self._session.close()

    async def handle(self, request: web.BaseRequest) -> web.StreamResponse:
        path = request.path
        if path == METRICS_PATH or path.startswith("/router/"):
            return await self._admin(request, path)
        started = time.perf_counter()
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return _json(413, {"error": f"router: request body over {self.max_body_bytes} bytes"})
        state = self.splitter.state
        key = None
        if state.sticky_header is not None:
            key = request.headers.get(state.sticky_header) or None
        if key is None and state.sticky_field is not None and body:
            key = field_key(body, state.sticky_field)
        variant, assignment = self.splitter.choose(key)
        self.metrics.assigned(assignment, variant)
        kind = request_kind(path)
        headers = [(k, v) for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP]
        mirror = (
            variant == STABLE and kind != OTHER and state.mirror_percent and self.splitter.mirror()
        )
        answer = await self._call(
            variant, request.method, request.raw_path, headers, body, self.timeout
        )
        self.metrics.observe(variant, SERVED, kind, answer.status, time.perf_counter() - started)
        if mirror:  # after stable answered: the copy's work never delays the client's answer
            self._send_mirror(request.method, request.raw_path, headers, body, kind)
        answer.headers[VARIANT_HEADER] = variant
        return web.Response(body=answer.body, status=answer.status, headers=answer.headers)

    async def _call(
        self,
        variant: str,
        method: str,
        raw_path: str,
        headers: list[tuple[str, str]],
        body: bytes,
        timeout: ClientTimeout,
    ) -> _Answer:
        """One upstream exchange; transport failures become a 502 (504 on timeout) answer."""
        assert self._session is not None
        base = self.upstreams[variant]
        try:
            async with self._session.request(
                method, URL(base + raw_path, encoded=True), headers=headers, data=body or None,
                allow_redirects=False, timeout=timeout,
            ) as upstream:  # fmt: skip
                data = await upstream.read()
                kept = CIMultiDict(
                    (k, v) for k, v in upstream.headers.items() if k.lower() not in HOP_BY_HOP
                )
                return _Answer(upstream.status, kept, data)
        except (TimeoutError, ClientError, OSError) as exc:
            status = 504 if isinstance(exc, TimeoutError) else 502
            reason = " ".join(str(exc).split()) or "timed out"
            message = (
                f"router: the {variant} upstream {base} failed: {type(exc).__name__}: {reason}"
            )
            log.debug(message)
            return _Answer(
                status,
                CIMultiDict({"Content-Type": "application/json"}),
                orjson.dumps({"error": message}),
            )

    def _send_mirror(
        self, method: str, raw_path: str, headers: list[tuple[str, str]], body: bytes, kind: str
    ) -> None:
        """Fire and forget, at most ``mirror_limit`` in flight: a slow candidate cannot queue up."""
        if len(self._mirrors) >= self.mirror_limit:
            self.metrics.mirror_dropped.inc()
            return
        task = asyncio.get_running_loop().create_task(
            self._mirror(method, raw_path, headers, body, kind)
        )
        self._mirrors.add(task)
        self.metrics.mirror_inflight.set(len(self._mirrors))
        task.add_done_callback(self._mirror_done)

    def _mirror_done(self, task: asyncio.Task[None]) -> None:
        self._mirrors.discard(task)
        self.metrics.mirror_inflight.set(len(self._mirrors))

    async def _mirror(
        self, method: str, raw_path: str, headers: list[tuple[str, str]], body: bytes, kind: str
    ) -> None:
        started = time.perf_counter()
        try:
            answer = await self._call(
                CANDIDATE, method, raw_path, headers, body, self.mirror_timeout
            )
            status = answer.status
        except Exception:  # a mirror never fails anything; it is only counted
            log.debug("mirror to the candidate failed", exc_info=True)
            status = 502
        self.metrics.observe(CANDIDATE, MIRROR, kind, status, time.perf_counter() - started)

    async def _admin(self, request: web.BaseRequest, path: str) -> web.Response:
        method = request.method
        if path == METRICS_PATH and method == "GET":
            return web.Response(
                body=self.metrics.exposition(), headers={"Content-Type": CONTENT_TYPE_LATEST}
            )
        if path == HEALTH_PATH and method == "GET":
            return _json(200, {"status": "ok"})
        if path == TRAFFIC_PATH and method == "GET":
            return _json(200, traffic_json(self.state))
        if path == TRAFFIC_PATH and method == "PUT":
            try:
                state = parse_traffic(orjson.loads(await request.read()))
            except orjson.JSONDecodeError as exc:
                return _json(
                    ConfigurationError.http_status,
                    {"error": f"router traffic: the body is not JSON: {exc}"},
                )
            except ConfigurationError as exc:
                return _json(exc.http_status, {"error": exc.message})
            self.set_traffic(state)
            log.info("traffic set: %s", traffic_json(state))
            return _json(200, traffic_json(state))
        if path in (METRICS_PATH, HEALTH_PATH, TRAFFIC_PATH):
            allowed = "GET, PUT" if path == TRAFFIC_PATH else "GET"
            return _json(
                405,
                {"error": f"router: {method} {path} is not allowed; use {allowed}"},
                {"Allow": allowed},
            )
        return _json(
            404,
            {
                "error": f"router: no admin endpoint {path}; use {TRAFFIC_PATH}, {HEALTH_PATH} or {METRICS_PATH}"
            },
        )


# -- running it ----------------------------------------------------------------------------------------


def _new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError:  # pragma: no cover  (uvloop is a kfops dependency through uvicorn)
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def run_router(
    stable_url: str,
    candidate_url: str,
    host: str = LOOPBACK,
    port: int = 8090,
    initial: SetTraffic | None = None,
    state_file: Path | None = None,
    **options: Any,
) -> None:
    """Serves until SIGTERM or SIGINT, then shuts down gracefully. Prints the bound URL."""

    async def serve() -> None:
        router = Router(
            stable_url, candidate_url, initial=initial, state_file=state_file, **options
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        bound = await router.start(host, port)
        print(f"kfops router listening on http://{host}:{bound}", flush=True)
        try:
            await stop.wait()
        finally:
            await router.stop()

    loop = _new_loop()
    try:
        loop.run_until_complete(serve())
    finally:
        loop.close()


class RouterHandle:
    """A router serving in a background thread (its own event loop), for tests and benchmarks."""

    def __init__(self, router: Router, host: str, port: int) -> None:
        self.router = router
        self.url = f"http://{host}:{port}"
        self.port = port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None

    @property
    def metrics(self) -> RouterMetrics:
        return self.router.metrics

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(timeout=30)
            self._thread = None

    def __enter__(self) -> RouterHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_router(
    stable_url: str,
    candidate_url: str,
    host: str = LOOPBACK,
    port: int = 0,
    initial: SetTraffic | None = None,
    state_file: Path | None = None,
    **options: Any,
) -> RouterHandle:
    """Starts a router in a daemon thread and returns once it listens (``port=0``: any free one)."""
    router = Router(stable_url, candidate_url, initial=initial, state_file=state_file, **options)
    started = threading.Event()
    box: dict[str, Any] = {}

    async def serve() -> None:
        box["stop"] = asyncio.Event()
        try:
            box["port"] = await router.start(host, port)
            started.set()
            await box["stop"].wait()
        finally:
            await router.stop()

    def run() -> None:
        loop = box["loop"] = _new_loop()
        try:
            loop.run_until_complete(serve())
        except BaseException as exc:  # reported to the caller below
            box["error"] = exc
            started.set()
        finally:
            loop.close()

    thread = threading.Thread(target=run, name="kfops-router", daemon=True)
    thread.start()
    started.wait(timeout=30)
    if "port" not in box:
        thread.join(timeout=5)
        raise ConfigurationError(f"router: could not listen on {host}:{port}: {box.get('error')}")
    handle = RouterHandle(router, host, box["port"])
    handle._loop, handle._stop, handle._thread = box["loop"], box["stop"], thread
    return handle


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m kfops.rollout.router.proxy", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--stable", required=True, help="Stable server URL, http://127.0.0.1:8081")
    parser.add_argument("--candidate", required=True, help="Candidate server URL.")
    parser.add_argument("--host", default=LOOPBACK)
    parser.add_argument("--port", type=int, default=8090, help="0 picks a free port (printed).")
    parser.add_argument("--candidate-weight", type=int, default=0)
    parser.add_argument("--mirror-percent", type=int, default=0)
    parser.add_argument("--sticky-header")
    parser.add_argument("--sticky-field")
    parser.add_argument("--state-file", type=Path, help="Keeps the traffic state across restarts.")
    parser.add_argument("--timeout", type=float, default=30.0, help="Upstream timeout, seconds.")
    parser.add_argument("--mirror-limit", type=int, default=64, help="Mirrors in flight at most.")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    with exit_on_error:
        initial = check_traffic(
            SetTraffic(
                args.candidate_weight, args.mirror_percent, args.sticky_header, args.sticky_field
            )
        )
        run_router(
            args.stable, args.candidate, args.host, args.port, initial, args.state_file,
            timeout=args.timeout, mirror_limit=args.mirror_limit,
        )  # fmt: skip


if __name__ == "__main__":
    main()
