"""Serving benchmark: one RandomForest behind four servers, measured in one run.

    .venv/bin/python benchmarks/serving.py [--duration 8] [--skip-mlserver]

(a) bare ``predict`` of one row in a loop (in this process; at concurrency 32, 32 threads);
(a') the same row through the tree-by-tree forest path the server uses (c=1);
(b) a plain ``kserve.Model`` on kserve's stock ModelServer, no batching;
(c) the kfops server (``kfops serve``): V1, and as extra rows V2 JSON, V2 with the binary
    tensor extension (as Triton's client sends it) and V2 over gRPC (raw tensors); the gRPC
    row's load is a bounded Python loop of blocking calls ("[py]"), since no gRPC load
    generator is installed, so it measures that client too;
(d) MLServer 1.7.1 with mlserver-sklearn and adaptive batching (32 rows, 5 ms), from its
    own virtualenv (``uv sync --frozen --directory runtimes/mlserver``), over REST and gRPC
    (the same raw-tensor request as (c)'s, asking for a pandas frame).

The reference the throughput goal is set against is (a32): the model's own ``predict`` of
32-row batches on one core, in rows/s; "bar 4" prints the served req/s against it.

The model: 100 trees trained here on examples/churn/data/churn.csv, inside a
scikit-learn-only pipeline (median imputer, one-hot encoder) so that every server can
unpickle it. Every server binds 127.0.0.1. Load comes from ``wrk`` when it is installed
(Debian: ``apt-get install wrk``), else from a bounded Python thread pool. Each load run
lasts ``--duration`` seconds after a short warm-up; the table compares against (b).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from load import Result, Server, free_port, generator_name, http_load, timed_threads
from load import wrk as wrk  # for scripts that `import serving` and time one server

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "examples" / "churn" / "data" / "churn.csv"
MLSERVER_PYTHON = REPO / "runtimes" / "mlserver" / ".venv" / "bin" / "python"
TARGET, DROPPED = "churned", ["customer_id", "event_timestamp"]
MODEL = "churn"
CONCURRENCY = (1, 32)
BARE_TREES = "(a') bare, tree by tree"
BATCH_ROWS = 32
BARE_BATCH = ("(a32) bare, 32-row batches", 1)
BARE_BATCH_TREES = ("(a'32) tree by tree, 32 rows", 1)
os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"


# -- the model -----------------------------------------------------------------------------


def train(folder: Path) -> dict[str, Any]:
    """Fit the forest; save it as an MLflow model (kfops) and as model.joblib (the others)."""
    import joblib
    import mlflow.sklearn
    import pandas as pd
    from mlflow.models import infer_signature
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    from kfops.registry.versions import artifact_sha256

    frame = pd.read_csv(DATA).drop(columns=DROPPED)
    features = frame.drop(columns=[TARGET])
    numeric = [c for c in features if features[c].dtype.kind in "if"]
    text = [c for c in features if c not in numeric]
    pipeline = Pipeline(
        [
            (
                "prep",
                ColumnTransformer(
                    [
                        ("num", SimpleImputer(strategy="median"), numeric),
                        ("cat", OneHotEncoder(handle_unknown="ignore"), text),
                    ]
                ),
            ),  # fmt: skip
            ("forest", RandomForestClassifier(n_estimators=100, random_state=0, n_jobs=1)),
        ]
    )
    pipeline.fit(features, frame[TARGET])
    mlflow_dir = folder / "mlflow-model"
    sample = features.head(5)
    mlflow.sklearn.save_model(
        pipeline,
        str(mlflow_dir),
        serialization_format="cloudpickle",
        signature=infer_signature(sample, pipeline.predict(sample)),
        pip_requirements=["scikit-learn"],
    )
    joblib.dump(pipeline, folder / "model.joblib")
    row = json.loads(features.dropna().head(1).to_json(orient="records"))[0]
    return {
        "pipeline": pipeline,
        "row": row,
        "mlflow_dir": mlflow_dir,
        "sha256": artifact_sha256(mlflow_dir),
    }


def serve_plain(port: int, model_path: str) -> None:
    """Subprocess entry for (b): a plain kserve.Model on the stock ModelServer.

    Stock except for the address: kserve's REST server binds 0.0.0.0, so its uvicorn
    config is pointed at 127.0.0.1; gRPC (which would bind all addresses) is off.
    """
    import joblib
    import pandas as pd

    from kfops.serving.kserve_import import Model, ModelServer, kserve

    class LoopbackRESTServer(kserve.protocol.rest.server.RESTServer):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.config.host = "127.0.0.1"

    class PlainModel(Model):
        def load(self) -> bool:
            self.model = joblib.load(model_path)
            self.ready = True
            return True

        def predict(self, payload: dict[str, Any], headers: Any = None) -> dict[str, Any]:
            return {"predictions": self.model.predict(pd.DataFrame(payload["instances"])).tolist()}

    kserve.model_server.RESTServer = LoopbackRESTServer
    model = PlainModel(MODEL)
    model.load()
    ModelServer(http_port=port, enable_grpc=False).start([model])


def mlserver_folder(folder: Path, port: int, grpc_port: int) -> Path:
    root = folder / "mlserver"
    (root / MODEL).mkdir(parents=True)
    shutil.copy(folder / "model.joblib", root / MODEL / "model.joblib")
    settings = {
        "host": "127.0.0.1",
        "http_port": port,
        "grpc_port": grpc_port,
        "metrics_port": free_port(),
    }
    (root / "settings.json").write_text(json.dumps(settings))
    model = {
        "name": MODEL,
        "implementation": "mlserver_sklearn.SKLearnModel",
        "parameters": {"uri": "./model.joblib"},
        "max_batch_size": 32,
        "max_batch_time": 0.005,
    }
    (root / MODEL / "model-settings.json").write_text(json.dumps(model))
    return root


def datatype(value: Any) -> str:
    return "INT64" if isinstance(value, int) else "FP64" if isinstance(value, float) else "BYTES"


def v2_binary(row: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    """The row as Triton's client sends it: JSON header, raw tensors, binary outputs."""
    import numpy as np

    from kfops.serving import tensors

    inputs, buffers = [], []
    for name, value in row.items():
        kind = datatype(value)
        raw = tensors.encode(kind, np.array([value], dtype=object if kind == "BYTES" else None))
        inputs.append({"name": name, "shape": [1], "datatype": kind,
                       "parameters": {"binary_data_size": len(raw)}})  # fmt: skip
        buffers.append(raw)
    header = json.dumps({"inputs": inputs, "parameters": {"binary_data_output": True}}).encode()
    return header + b"".join(buffers), {"Inference-Header-Content-Length": str(len(header))}


def grpc_request(row: dict[str, Any]) -> Any:
    """A ModelInferRequest with raw_input_contents, as Triton's gRPC client builds it."""
    import numpy as np

    from kfops.serving import tensors
    from kfops.serving.kserve_import import oip_pb2

    request = oip_pb2.ModelInferRequest(model_name=MODEL)
    for name, value in row.items():
        kind = datatype(value)
        request.inputs.add(name=name, datatype=kind, shape=[1])
        raw = tensors.encode(kind, np.array([value], dtype=object if kind == "BYTES" else None))
        request.raw_input_contents.append(raw)
    return request


def grpc_load(target: str, request: Any, concurrency: int, seconds: float) -> Result:
    """A bounded Python loop of ModelInfer calls (no gRPC load generator installed here)."""
    import grpc

    from kfops.serving.kserve_import import oip_grpc

    with grpc.insecure_channel(target) as channel:
        stub = oip_grpc.GRPCInferenceServiceStub(channel)

        def call() -> bool:
            try:
                stub.ModelInfer(request, timeout=10)
            except grpc.RpcError:
                return False
            return True

        return timed_threads(call, concurrency, seconds)


def measure_grpc(name: str, target: str, request: Any, seconds: float, results: dict) -> None:
    grpc_load(target, request, 8, min(2.0, seconds))  # warm-up (and a check: errors fail below)
    for concurrency in CONCURRENCY:
        results[(name, concurrency)] = result = grpc_load(target, request, concurrency, seconds)
        print(f"  {name} c={concurrency}: {result}", flush=True)
        if result.errors:
            raise SystemExit(f"benchmark: {name} failed {result.errors} calls")


def v2_body(row: dict[str, Any], pandas: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {
        "inputs": [
            {"name": k, "shape": [1], "datatype": datatype(v), "data": [v]} for k, v in row.items()
        ]
    }
    if pandas:
        body["parameters"] = {"content_type": "pd"}
    return body


# -- the run -----------------------------------------------------------------------------------


def check_answer(
    url: str, body: dict[str, Any] | bytes, name: str, headers: dict[str, str] | None = None
) -> None:
    import httpx

    payload = {"content": body} if isinstance(body, bytes) else {"json": body}
    response = httpx.post(url, **payload, headers=headers, timeout=30)
    if response.status_code != 200:
        raise SystemExit(
            f"benchmark: {name} answered {response.status_code}: {response.text[:500]}"
        )


def measure(
    name: str,
    url: str,
    body: dict[str, Any] | bytes,
    seconds: float,
    results: dict,
    headers: dict[str, str] | None = None,
) -> None:
    check_answer(url, body, name, headers)
    http_load(url, body, 8, min(2.0, seconds), headers)  # warm-up
    for concurrency in CONCURRENCY:
        results[(name, concurrency)] = http_load(url, body, concurrency, seconds, headers)
        print(f"  {name} c={concurrency}: {results[(name, concurrency)]}", flush=True)


def paired(
    bare: Callable[[], bool], url: str, body: dict[str, Any], seconds: float, results: dict
) -> None:
    """(a) and (c) at concurrency 1 in alternating slices, so drift hits both alike."""
    slices = max(2, int(seconds))
    bare_p50, served_p50 = [], []
    for _ in range(slices):
        bare_p50.append(timed_threads(bare, 1, 1.0).p50_ms)
        served_p50.append(http_load(url, body, 1, 1.0).p50_ms)
    results["paired"] = (statistics.median(bare_p50), statistics.median(served_p50), slices)


def mean_batch(base: str) -> float:
    import httpx

    text = httpx.get(f"{base}/metrics", timeout=10).text
    found = dict(re.findall(r"^kfops_serving_batch_requests_(sum|count)\{.*\} (\S+)$", text, re.M))
    return float(found.get("sum", 0)) / max(float(found.get("count", 1)), 1.0)


def run(
    seconds: float, skip_mlserver: bool, serving: dict[str, Any]
) -> dict[tuple[str, int], Result]:
    import pandas as pd

    results: dict[tuple[str, int], Result] = {}
    with tempfile.TemporaryDirectory(prefix="kfops-bench-") as tmp:
        folder = Path(tmp)
        print("training the forest (100 trees)...", flush=True)
        model = train(folder)
        row, pipeline = model["row"], model["pipeline"]
        frame = pd.DataFrame([row])
        pipeline.predict(frame)

        def bare() -> bool:
            pipeline.predict(frame)
            return True

        for concurrency in CONCURRENCY:
            results[("(a) bare predict", concurrency)] = timed_threads(bare, concurrency, seconds)
            print(
                f"  (a) c={concurrency}: {results[('(a) bare predict', concurrency)]}", flush=True
            )
        # The server evaluates forests tree by tree (kfops.serving.forest): the same call bare,
        # so the server's own overhead can be read against it too.
        from kfops.serving.forest import forest_call

        trees = forest_call(pipeline)

        def bare_trees() -> bool:
            trees(frame)
            return True

        results[(BARE_TREES, 1)] = timed_threads(bare_trees, 1, seconds)
        print(f"  (a') c=1: {results[(BARE_TREES, 1)]}", flush=True)
        # The physical reference: what the model itself does with the machine's batches,
        # 32 rows a call on one core (rows/s = 32 x calls/s).
        batch = pd.DataFrame([row] * BATCH_ROWS)

        def bare_batch() -> bool:
            pipeline.predict(batch)
            return True

        results[BARE_BATCH] = timed_threads(bare_batch, 1, seconds)
        print(f"  (a32) c=1: {results[BARE_BATCH]} = {rows_per_second(results):.0f} rows/s")
        columns = {name: batch[name].to_numpy() for name in batch}

        def bare_batch_trees() -> bool:
            trees(columns)
            return True

        # The same batches through the server's own path (compiled preprocessing, trees):
        # a stricter reference than (a32), printed beside it.
        results[BARE_BATCH_TREES] = timed_threads(bare_batch_trees, 1, seconds)
        print(f"  (a'32) c=1: {results[BARE_BATCH_TREES]}")

        v1 = {"instances": [row]}
        port = free_port()
        plain = [sys.executable, __file__, "--serve-plain", str(port), str(folder / "model.joblib")]
        with Server("(b) plain kserve.Model", plain, f"http://127.0.0.1:{port}/v1/models/{MODEL}"):
            measure(
                "(b) plain kserve.Model",
                f"http://127.0.0.1:{port}/v1/models/{MODEL}:predict",
                v1,
                seconds,
                results,
            )

        port, grpc_port = free_port(), free_port()
        kfops = [str(Path(sys.executable).parent / "kfops"), "serve", "--model", str(model["mlflow_dir"]),
                 "--sha256", model["sha256"], "--port", str(port), "--name", MODEL,
                 "--grpc-port", str(grpc_port)]  # fmt: skip
        env = {"KFOPS_SERVING": json.dumps(serving)}  # {} = the shipped defaults
        with Server(
            "(c) kfops", kfops, f"http://127.0.0.1:{port}/v2/health/ready", env=env, cwd=folder
        ):
            base = f"http://127.0.0.1:{port}"
            measure("(c) kfops V1", f"{base}/v1/models/{MODEL}:predict", v1, seconds, results)
            measure(
                "(c) kfops V2", f"{base}/v2/models/{MODEL}/infer", v2_body(row), seconds, results
            )
            body, headers = v2_binary(row)
            infer = f"{base}/v2/models/{MODEL}/infer"
            measure("(c) kfops V2 binary", infer, body, seconds, results, headers)
            target = f"127.0.0.1:{grpc_port}"
            measure_grpc("(c) kfops gRPC [py]", target, grpc_request(row), seconds, results)
            print(f"  (c) mean requests per model call over all runs: {mean_batch(base):.1f}")
            paired(bare, f"{base}/v1/models/{MODEL}:predict", v1, seconds, results)

        if skip_mlserver:
            return results
        if not MLSERVER_PYTHON.is_file():
            print("(d) skipped: run `uv sync --frozen --directory runtimes/mlserver` first")
            return results
        port, grpc_port = free_port(), free_port()
        root = mlserver_folder(folder, port, grpc_port)
        mlserver = [str(MLSERVER_PYTHON.parent / "mlserver"), "start", str(root)]
        with Server(
            "(d) MLServer", mlserver, f"http://127.0.0.1:{port}/v2/models/{MODEL}/ready", cwd=root
        ):
            url = f"http://127.0.0.1:{port}/v2/models/{MODEL}/infer"
            measure("(d) MLServer", url, v2_body(row, pandas=True), seconds, results)
            request = grpc_request(row)
            request.parameters["content_type"].string_param = "pd"  # its sklearn runtime's frame
            target = f"127.0.0.1:{grpc_port}"
            measure_grpc("(d) MLServer gRPC [py]", target, request, seconds, results)
    return results


def rows_per_second(results: dict) -> float:
    return results[BARE_BATCH].rps * BATCH_ROWS


def report(results: dict[tuple[str, int], Result]) -> None:
    names = list(dict.fromkeys(key[0] for key in results if key != "paired"))
    baseline = "(b) plain kserve.Model"
    print()
    print(
        f"{'server':<24} {'conc':>4} {'p50 ms':>8} {'p99 ms':>8} {'req/s':>8} {'x (b) req/s':>11} {'errors':>6}"
    )
    for name in names:
        for concurrency in CONCURRENCY:
            r = results.get((name, concurrency))
            if r is None:
                continue
            base = results.get((baseline, concurrency))
            ratio = f"{r.rps / base.rps:.2f}" if base and base.rps else "-"
            print(
                f"{name:<24} {concurrency:>4} {r.p50_ms:>8.2f} {r.p99_ms:>8.2f} {r.rps:>8.1f} {ratio:>11} {r.errors:>6}"
            )
    kfops32, plain32 = results.get(("(c) kfops V1", 32)), results.get((baseline, 32))
    if kfops32 and plain32 and "paired" in results:
        bare_p50, served_p50, slices = results["paired"]
        print()
        throughput = kfops32.rps / plain32.rps
        print(
            f"bar 1: (c) >= 5x (b) req/s at c=32 ........ {throughput:.1f}x  {'met' if throughput >= 5 else 'NOT met'}"
        )
        print(
            f"bar 2: (c) p99 < 25 ms at c=32 ............ {kfops32.p99_ms:.1f} ms  {'met' if kfops32.p99_ms < 25 else 'NOT met'}"
        )
        gap = served_p50 - bare_p50
        print(
            f"bar 3: (c) p50 within 1 ms of (a) at c=1 .. {gap:+.2f} ms  {'met' if gap <= 1 else 'NOT met'}"
            f"  ({slices} alternating 1 s slices: (a) {bare_p50:.2f} ms, (c) {served_p50:.2f} ms)"
        )
        if BARE_BATCH in results:
            reference = rows_per_second(results)
            ratio = kfops32.rps / reference
            print(
                f"bar 4: (c) req/s at c=32 >= 0.9 x (a32) rows/s on one core "
                f"({reference:.0f}) .. {ratio:.2f}x  {'met' if ratio >= 0.9 else 'NOT met'}"
            )
            for name in ("(c) kfops V2", "(c) kfops V2 binary", "(c) kfops gRPC [py]"):
                if (name, 32) in results:
                    print(f"       {name} at c=32: {results[(name, 32)].rps / reference:.2f}x")
            if BARE_BATCH_TREES in results:
                own = results[BARE_BATCH_TREES].rps * BATCH_ROWS
                print(
                    f"       against (a'32), the server's own path on 32-row batches "
                    f"({own:.0f} rows/s on one core): {kfops32.rps / own:.2f}x"
                )
        trees = results.get((BARE_TREES, 1))
        if trees is not None:
            print(
                f"       against (a'), the server's own predict path: (c) p50 "
                f"{results[('(c) kfops V1', 1)].p50_ms - trees.p50_ms:+.2f} ms"
            )


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--serve-plain":
        serve_plain(int(sys.argv[2]), sys.argv[3])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=8.0, help="Seconds per load run.")
    parser.add_argument("--skip-mlserver", action="store_true")
    parser.add_argument(
        "--serving", default="{}", help="kfops' serving settings as JSON (default: shipped)."
    )
    args = parser.parse_args()
    print(
        f"load generator: {generator_name()}; {os.cpu_count()} cores; {args.duration:g} s per run",
        flush=True,
    )
    report(run(args.duration, args.skip_mlserver, json.loads(args.serving)))


if __name__ == "__main__":
    main()
