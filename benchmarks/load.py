"""Load generation and server processes shared by the benchmarks (router.py, serving.py).

:func:`http_load` POSTs one JSON body for a number of seconds at a fixed concurrency and
returns p50, p99, req/s and errors: with ``wrk`` (one thread, a Lua script for the body)
when it is installed, else with a bounded pool of Python threads (:func:`timed_threads`).
:class:`Server` runs a server as a child process for the length of a ``with`` block.
Everything binds 127.0.0.1. The benchmarks run as scripts, so they ``import load`` from
this folder.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class Result:
    p50_ms: float
    p99_ms: float
    rps: float
    errors: int = 0


def generator_name() -> str:
    """What :func:`http_load` will use, for the benchmark's first line."""
    return "wrk" if shutil.which("wrk") else "python threads (install wrk for lighter load)"


# -- wrk -------------------------------------------------------------------------------------

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    number, unit = re.match(r"([\d.]+)(us|ms|s)", text).groups()
    return float(number) * _UNITS[unit]


def _lua_script(body: dict[str, Any] | bytes, headers: dict[str, str] | None) -> str:
    """JSON, or raw bytes (``application/octet-stream``, as Lua's 3-digit byte escapes)."""
    raw = isinstance(body, bytes)
    media = "application/octet-stream" if raw else "application/json"
    lines = ['wrk.method = "POST"', f'wrk.headers["Content-Type"] = "{media}"']
    lines += [f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}" for k, v in (headers or {}).items()]
    text = '"' + "".join(f"\\{b:03d}" for b in body) + '"' if raw else json.dumps(json.dumps(body))
    lines.append(f"wrk.body = {text}")
    return "\n".join(lines) + "\n"


def wrk(
    url: str,
    body: dict[str, Any] | bytes,
    concurrency: int,
    seconds: float,
    headers: dict[str, str] | None = None,
) -> Result:
    """``wrk`` POSTing ``body`` (JSON) to ``url``; non-2xx answers and socket errors count."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(_lua_script(body, headers))
    try:
        out = subprocess.run(
            ["wrk", "-t1", f"-c{concurrency}", f"-d{seconds:g}s", "--latency", "--timeout", "10s",
             "-s", script.name, url],
            capture_output=True, text=True, timeout=seconds + 60, check=True,
        ).stdout  # fmt: skip
    finally:
        os.unlink(script.name)
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if not (p50 and p99 and rps):
        raise SystemExit(f"benchmark: cannot read wrk's output:\n{out}")
    failed = int(bad.group(1)) if bad else 0
    failed += sum(int(n) for n in errors.groups()) if errors else 0
    return Result(_ms(p50.group(1)), _ms(p99.group(1)), float(rps.group(1)), failed)


# -- threads ---------------------------------------------------------------------------------


def _percentile(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def timed_threads(call: Callable[[], bool], concurrency: int, seconds: float) -> Result:
    """``concurrency`` threads call ``call`` in a loop until the time is up; a False return
    counts as an error. Latencies of all calls, in milliseconds."""
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop = time.perf_counter() + seconds

    def worker() -> None:
        mine, bad = [], 0
        while time.perf_counter() < stop:
            started = time.perf_counter()
            ok = call()
            mine.append(time.perf_counter() - started)
            bad += not ok
        with lock:
            latencies.extend(mine)
            errors[0] += bad

    started = time.perf_counter()
    pool = [threading.Thread(target=worker) for _ in range(concurrency)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    elapsed = time.perf_counter() - started
    latencies.sort()
    return Result(
        _percentile(latencies, 0.5) * 1000,
        _percentile(latencies, 0.99) * 1000,
        len(latencies) / elapsed,
        errors[0],
    )


def thread_load(
    url: str,
    body: dict[str, Any] | bytes,
    concurrency: int,
    seconds: float,
    headers: dict[str, str] | None = None,
) -> Result:
    """The fallback without wrk: :func:`timed_threads`, each thread with a keep-alive client."""
    import httpx

    local = threading.local()
    clients: list[httpx.Client] = []

    def call() -> bool:
        if not hasattr(local, "client"):
            local.client = httpx.Client(timeout=10, headers=headers)
            clients.append(local.client)
        payload = {"content": body} if isinstance(body, bytes) else {"json": body}
        return local.client.post(url, **payload).status_code == 200

    try:
        return timed_threads(call, concurrency, seconds)
    finally:
        for client in clients:
            client.close()


def http_load(
    url: str,
    body: dict[str, Any] | bytes,
    concurrency: int,
    seconds: float,
    headers: dict[str, str] | None = None,
) -> Result:
    """POST ``body`` to ``url`` for ``seconds``: with wrk when installed, else with threads."""
    generate = wrk if shutil.which("wrk") else thread_load
    return generate(url, body, concurrency, seconds, headers)


# -- servers ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A server process; ``with`` waits until ``ready_url`` answers 200, then SIGTERMs it
    (SIGKILL to its process group after ``stop_timeout``)."""

    def __init__(
        self,
        name: str,
        command: list[str],
        ready_url: str,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        start_timeout: float = 180.0,
        stop_timeout: float = 30.0,
    ):
        self.name, self.command, self.ready_url = name, command, ready_url
        self.env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", **(env or {})}
        self.cwd = cwd
        self.start_timeout, self.stop_timeout = start_timeout, stop_timeout
        self.log = tempfile.TemporaryFile("w+")  # noqa: SIM115  (closed with the server)
        self.process: subprocess.Popen[str] | None = None

    def __enter__(self) -> Server:
        import httpx

        self.process = subprocess.Popen(
            self.command, stdout=self.log, stderr=subprocess.STDOUT, text=True, env=self.env,
            cwd=self.cwd, start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                if httpx.get(self.ready_url, timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.log.seek(0)
        output = self.log.read()[-3000:]
        self.__exit__()
        raise SystemExit(f"benchmark: {self.name} did not start:\n{output}")

    def __exit__(self, *exc: object) -> None:
        try:
            if self.process is not None and self.process.poll() is None:
                self.process.send_signal(signal.SIGTERM)
                try:
                    self.process.wait(timeout=self.stop_timeout)
                except subprocess.TimeoutExpired:
                    os.killpg(self.process.pid, signal.SIGKILL)
                    self.process.wait(timeout=10)
        finally:
            self.log.close()
