"""Router benchmark: what the rollout router adds on top of a direct call to its upstream.

    .venv/bin/python benchmarks/router.py [--duration 5] [--compare-stacks] [--kfops]

Default run (about 50 s): a trivial echo upstream (aiohttp on uvloop, its own process),
measured directly and through ``python -m kfops.rollout.router.proxy`` (its own process) at
concurrency 1 and 32; p50, p99, req/s and the added p50/p99 in milliseconds. The router
runs at 20 % candidate weight (two echo upstreams), so the split logic is on the path.
A last row adds 100 % mirroring (every stable answer copied to the candidate). The
< 1 ms bar is judged on alternating 1 s slices, direct and routed, at concurrency 1.

``--compare-stacks`` first measures three bare pass-through proxies, the stacks the router
could be built on: aiohttp server + aiohttp client, uvicorn/httptools + httpx, and
uvicorn/httptools + aiohttp client. ``--kfops`` adds a real ``kfops serve`` upstream (a
small logistic regression) measured directly and through the router.

Load comes from ``wrk`` (one thread, a Lua script for the POST body) when it is installed,
else from a bounded Python thread pool (both in load.py). Every process binds 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

from load import Server, free_port, generator_name, http_load

REPO = Path(__file__).resolve().parents[1]
CONCURRENCY = (1, 32)
MODEL = "bench"
BODY: dict[str, Any] = {"instances": [{"x": 1.0, "y": 2.0}]}
os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"


def process(name: str, command: list[str], ready_url: str, cwd: Path | None = None) -> Server:
    """A benchmark process that imports kfops from this checkout."""
    env = {"PYTHONPATH": str(REPO)}
    return Server(name, command, ready_url, env, cwd, start_timeout=120, stop_timeout=20)


def me(*args: str) -> list[str]:
    return [sys.executable, __file__, *map(str, args)]


# -- the subprocess entries: an echo upstream and three bare proxies ----------------------------


def serve_echo(port: int) -> None:
    """A trivial upstream: answers every POST with a small prediction, every GET with 200."""
    import uvloop
    from aiohttp import web

    answer = b'{"predictions":[1]}'

    async def handler(request: web.BaseRequest) -> web.Response:
        await request.read()
        return web.Response(body=answer, content_type="application/json")

    async def main() -> None:
        runner = web.ServerRunner(web.Server(handler), access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        await asyncio.Event().wait()

    uvloop.run(main())


def serve_stack(stack: str, port: int, upstream: str) -> None:
    """A bare pass-through proxy on one stack: what the stack alone costs, no router logic."""
    import uvloop

    if stack == "aiohttp":
        from aiohttp import ClientSession, TCPConnector, web

        async def main() -> None:
            session = ClientSession(connector=TCPConnector(limit=256), auto_decompress=False)

            async def handler(request: web.BaseRequest) -> web.Response:
                body = await request.read()
                async with session.request(
                    request.method, upstream + request.raw_path, data=body,
                    headers={"Content-Type": request.content_type},
                ) as answer:  # fmt: skip
                    data = await answer.read()
                    return web.Response(body=data, status=answer.status, content_type="application/json")  # fmt: skip

            runner = web.ServerRunner(web.Server(handler), access_log=None)
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", port).start()
            await asyncio.Event().wait()

        uvloop.run(main())
        return

    import uvicorn

    async def read_body(receive: Any) -> bytes:
        chunks, more = [], True
        while more:
            message = await receive()
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        return b"".join(chunks)

    async def send_answer(send: Any, status: int, data: bytes) -> None:
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": data})

    if stack == "uvicorn-httpx":
        import httpx

        client: Any = None

        async def app(scope: dict, receive: Any, send: Any) -> None:
            nonlocal client
            if scope["type"] != "http":
                return
            if client is None:
                client = httpx.AsyncClient(limits=httpx.Limits(max_connections=256))
            body = await read_body(receive)
            path = scope["raw_path"].decode() + (
                "?" + scope["query_string"].decode() if scope["query_string"] else ""
            )
            answer = await client.request(
                scope["method"], upstream + path, content=body,
                headers={"content-type": "application/json"},
            )  # fmt: skip
            await send_answer(send, answer.status_code, answer.content)

    else:  # uvicorn-aiohttp
        from aiohttp import ClientSession, TCPConnector

        session: Any = None

        async def app(scope: dict, receive: Any, send: Any) -> None:
            nonlocal session
            if scope["type"] != "http":
                return
            if session is None:
                session = ClientSession(connector=TCPConnector(limit=256))
            body = await read_body(receive)
            async with session.request(
                scope["method"], upstream + scope["raw_path"].decode(), data=body,
                headers={"content-type": "application/json"},
            ) as answer:  # fmt: skip
                await send_answer(send, answer.status, await answer.read())

    uvicorn.run(
        app, host="127.0.0.1", port=port, loop="uvloop", http="httptools", access_log=False,
        log_level="warning", lifespan="off",
    )  # fmt: skip


# -- the kfops model server upstream -----------------------------------------------------------


def kfops_model(folder: Path) -> tuple[Path, str]:
    """A logistic regression on two features, saved as an MLflow model; (path, digest)."""
    import mlflow.sklearn
    import pandas as pd
    from mlflow.models import infer_signature
    from sklearn.linear_model import LogisticRegression

    from kfops.registry.versions import artifact_sha256

    frame = pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0] * 10, "y": [1.0, 0.0, 3.0, 2.0] * 10})
    target = (frame["x"] > frame["y"]).astype(int)
    model = LogisticRegression().fit(frame, target)
    path = folder / "model"
    mlflow.sklearn.save_model(
        model,
        str(path),
        signature=infer_signature(frame, target),
        pip_requirements=["scikit-learn"],
    )
    return path, artifact_sha256(path)


# -- the run -------------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used (Linux /proc; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(
    label: str, url: str, seconds: float, results: dict[Any, Any], proxy: Server | None = None
) -> None:
    """Load at each concurrency; with ``proxy``, also its CPU microseconds per request.

    CPU per request does not depend on how busy the shared machine is, unlike latency.
    """
    import httpx

    answer = httpx.post(url, json=BODY, timeout=30)
    if answer.status_code != 200:
        raise SystemExit(f"benchmark: {label} answered {answer.status_code}: {answer.text[:300]}")
    http_load(url, BODY, 8, 1.0)  # warm-up: connections, caches
    for concurrency in CONCURRENCY:
        before = cpu_seconds(proxy.process.pid) if proxy and proxy.process else 0.0
        results[(label, concurrency)] = r = http_load(url, BODY, concurrency, seconds)
        if proxy and proxy.process:
            used = cpu_seconds(proxy.process.pid) - before
            results[("cpu", label, concurrency)] = used / max(r.rps * seconds, 1) * 1e6
        print(f"  {label:<34} c={concurrency:<3} {r}", flush=True)


def paired(direct: str, routed: str, seconds: float, results: dict[Any, Any]) -> None:
    """Direct and routed at concurrency 1 in alternating 1 s slices; the median p50 of each.

    The machine is shared, so load drifts; alternating makes the drift hit both alike.
    """
    slices = max(3, int(seconds))
    runs = [
        (http_load(direct, BODY, 1, 1.0), http_load(routed, BODY, 1, 1.0)) for _ in range(slices)
    ]
    results["paired"] = (
        statistics.median(d.p50_ms for d, _ in runs),
        statistics.median(r.p50_ms for _, r in runs),
        slices,
    )


def router_command(stable: str, candidate: str, port: int, mirror: int = 0) -> list[str]:
    return [
        sys.executable, "-m", "kfops.rollout.router.proxy", "--stable", stable, "--candidate",
        candidate, "--port", str(port), "--candidate-weight", "20", "--mirror-percent", str(mirror),
    ]  # fmt: skip


def run(seconds: float, compare_stacks: bool, with_kfops: bool) -> list[tuple[str, str]]:
    """Measures everything; returns (row label, baseline label) pairs for the table."""
    results: dict[Any, Any] = {}
    rows: list[tuple[str, str]] = []
    path = f"/v1/models/{MODEL}:predict"
    stable_port, candidate_port = free_port(), free_port()
    stable, candidate = f"http://127.0.0.1:{stable_port}", f"http://127.0.0.1:{candidate_port}"
    with (
        process("echo stable", me("--serve-echo", stable_port), stable + "/ready"),
        process("echo candidate", me("--serve-echo", candidate_port), candidate + "/ready"),
    ):
        measure("direct (echo)", stable + path, seconds, results)
        if compare_stacks:
            for stack in ("aiohttp", "uvicorn-httpx", "uvicorn-aiohttp"):
                port = free_port()
                base = f"http://127.0.0.1:{port}"
                with process(
                    stack, me("--serve-stack", stack, port, stable), base + "/ready"
                ) as proxy:
                    label = f"bare proxy: {stack}"
                    measure(label, base + path, seconds, results, proxy)
                    rows.append((label, "direct (echo)"))
        for mirror in (0, 100):
            port = free_port()
            base = f"http://127.0.0.1:{port}"
            command = router_command(stable, candidate, port, mirror)
            with process("router", command, base + "/router/healthz") as proxy:
                label = "router 20% canary" + (", 100% mirror" if mirror else "")
                measure(label, base + path, seconds, results, proxy)
                rows.append((label, "direct (echo)"))
                if not mirror:
                    paired(stable + path, base + path, seconds, results)
    if with_kfops:
        with tempfile.TemporaryDirectory(prefix="kfops-bench-router-") as tmp:
            model, digest = kfops_model(Path(tmp))
            port = free_port()
            direct = f"http://127.0.0.1:{port}"
            serve = [str(Path(sys.executable).parent / "kfops"), "serve", "--model", str(model),
                     "--sha256", digest, "--port", str(port), "--name", MODEL]  # fmt: skip
            with process("kfops serve", serve, direct + "/v2/health/ready", cwd=Path(tmp)):
                measure("direct (kfops serve)", direct + path, seconds, results)
                router_port = free_port()
                base = f"http://127.0.0.1:{router_port}"
                command = router_command(direct, direct, router_port)
                with process("router", command, base + "/router/healthz") as proxy:
                    measure("router -> kfops serve", base + path, seconds, results, proxy)
                    rows.append(("router -> kfops serve", "direct (kfops serve)"))
    report(results, rows)
    return rows


def report(results: dict[Any, Any], rows: list[tuple[str, str]]) -> None:
    print()
    print(
        f"{'path':<34} {'conc':>4} {'p50 ms':>7} {'p99 ms':>7} {'req/s':>8} "
        f"{'+p50 ms':>8} {'+p99 ms':>8} {'req/s ratio':>11} {'errors':>6} {'proxy CPU us/req':>16}"
    )
    baselines = list(dict.fromkeys(base for _, base in rows))
    for baseline in baselines:
        for label in [baseline] + [row for row, base in rows if base == baseline]:
            for concurrency in CONCURRENCY:
                r, b = results[(label, concurrency)], results[(baseline, concurrency)]
                added = (
                    ""
                    if label == baseline
                    else f"{r.p50_ms - b.p50_ms:>+8.3f} {r.p99_ms - b.p99_ms:>+8.3f}"
                )
                cpu = results.get(("cpu", label, concurrency))
                cpu = "" if cpu is None else f"{cpu:.0f}"
                print(
                    f"{label:<34} {concurrency:>4} {r.p50_ms:>7.3f} {r.p99_ms:>7.3f} {r.rps:>8.0f} "
                    f"{added:>17} {r.rps / b.rps:>11.2f} {r.errors:>6} {cpu:>16}"
                )
    if "paired" in results:
        direct_p50, routed_p50, slices = results["paired"]
        added = routed_p50 - direct_p50
        print(
            f"\nbar: router adds < 1 ms at p50 (c=1, echo upstream) ... {added:+.3f} ms  "
            f"{'met' if added < 1.0 else 'NOT met'}  ({slices} alternating 1 s slices: "
            f"direct {direct_p50:.3f} ms, routed {routed_p50:.3f} ms)"
        )


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--serve-echo":
        serve_echo(int(sys.argv[2]))
        return
    if len(sys.argv) == 5 and sys.argv[1] == "--serve-stack":
        serve_stack(sys.argv[2], int(sys.argv[3]), sys.argv[4])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=5.0, help="Seconds per load run.")
    parser.add_argument("--compare-stacks", action="store_true", help="Also time bare proxies.")
    parser.add_argument("--kfops", action="store_true", help="Also use a kfops model server.")
    args = parser.parse_args()
    print(
        f"load: {generator_name()}; {os.cpu_count()} cores; {args.duration:g} s per run", flush=True
    )
    run(args.duration, args.compare_stacks, args.kfops)


if __name__ == "__main__":
    main()
