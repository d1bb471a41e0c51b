"""Warm steps: kfp.local's steps forked from one interpreter that has the imports done.

A step started as a fresh interpreter pays for importing pandas, scikit-learn, MLflow and
kfp each time (about 2.5 s here), for 1-2 s of work. Here one server process, started at
the beginning of the run (while the pipeline is still being built), imports them and the
kfops step modules once; each step is then a fork of it: its own process, as before, so a
crash or a leaked global in one step cannot reach another, and SIGINT/SIGTERM to the run
stop it like any other descendant (:mod:`kfops.runners.interrupts`).

It sits behind kfp.local's subprocess runner: only the function that starts a
lightweight component's command is replaced, for the run. kfp.local still builds the
executor input, keys and fills its cache, and reads the outputs from the same task root;
the step runs ``kfp.dsl.executor_main`` on the component's source exactly as the command
would. A command of another shape, or a server that is gone, runs as a subprocess.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib
import io
import json
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# Imported by the server between steps, in the order the steps need them.
PRELOAD = (
    "kfp.dsl.executor_main",
    "numpy",
    "pandas",
    "pyarrow.parquet",
    "kfops.steps.ingest",
    "kfops.data.ingest",
    "kfops.steps.validate",
    "kfops.validation.validate",
    "sklearn.compose",
    "sklearn.ensemble",
    "sklearn.impute",
    "sklearn.inspection",
    "sklearn.linear_model",
    "sklearn.metrics",
    "sklearn.model_selection",
    "sklearn.pipeline",
    "sklearn.preprocessing",
    "matplotlib.pyplot",
    "mlflow",
    "mlflow.sklearn",
    "mlflow.models",
    "mlflow.store.tracking.sqlalchemy_store",
    "mlflow.store.model_registry.sqlalchemy_store",
    "kfops.steps.train",
    "kfops.steps.evaluate",
    "kfops.steps.register",
    "kfops.registry.dataset_source",
    "kfops.registry.versions",
    "kfops.training.estimator",
    "kfops.training.evaluate",
    "kfops.training.plots",
)
EXIT_MARK = "\x00kfops-step-exit:"
KFP_SCRIPT_MARKS = ('printf "%s" "$0"', "kfp.dsl.executor_main", "--component_module_path")
PR_SET_NAME = 15
START_TIMEOUT_S = 30.0
WARM_ENV = "KFOPS_WARM_STEPS"  # "0": every step a fresh interpreter, as kfp.local starts it


def _name_process(step: str) -> None:
    """``ps``/psutil name the forked step ``kfops:<step>`` (its command line is the server's)."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_NAME, f"kfops:{step}"[:15].encode(), 0, 0, 0)


def _preload(name: str) -> None:
    with contextlib.suppress(Exception):  # a step imports what is missing itself
        importlib.import_module(name)


def _run_step(request: dict[str, Any]) -> int:
    """In the forked child: what the component's ``sh -ec`` command does, in-process."""
    os.environ.clear()
    os.environ.update(request["env"])
    os.environ["_KFP_RUNTIME"] = "true"
    os.chdir(request["cwd"])
    if sys.path and sys.path[0] != request["cwd"]:
        sys.path.insert(0, request["cwd"])  # ``python -m`` puts its folder first
    args: list[str] = request["args"]
    step = args[args.index("--function_to_execute") + 1] if "--function_to_execute" in args else ""
    _name_process(step)
    program = Path(tempfile.mkdtemp()) / "ephemeral_component.py"
    program.write_text(request["source"])
    sys.argv = ["executor_main", "--component_module_path", str(program), *args]
    from kfp.dsl.executor_main import executor_main

    try:
        executor_main()
    except SystemExit as stop:
        return stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    except KeyboardInterrupt:
        traceback.print_exc()
        return 128 + signal.SIGINT
    except BaseException:  # noqa: BLE001 - any failure is the step's, reported as such
        traceback.print_exc()
        return 1
    return 0


def _child(connection: socket.socket) -> None:
    """The forked step: output to the connection, then its exit status, then exit."""
    code = 1
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # the step waits for its own children
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        request = json.loads(connection.makefile("r").readline())
        for fd in (1, 2):
            os.dup2(connection.fileno(), fd)
        sys.stdout = io.TextIOWrapper(os.fdopen(1, "wb", 0), line_buffering=True)
        sys.stderr = io.TextIOWrapper(os.fdopen(2, "wb", 0), line_buffering=True)
        code = _run_step(request)
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
            os.write(1, f"\n{EXIT_MARK}{code}\n".encode())
        os._exit(code)


def serve(path: str) -> None:
    """Fork a step per connection on ``path``, importing ``PRELOAD`` one module at a time
    in between: a step that comes early starts at once with what is loaded so far (and
    imports the rest itself, on the other core) while later steps find it all loaded.
    Steps are never waited for: the kernel reaps them (SIGCHLD ignored)."""
    os.environ.setdefault("MPLBACKEND", "Agg")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(16)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    pending = list(PRELOAD)
    while True:
        ready, _, _ = select.select([listener], [], [], 0 if pending else None)
        if not ready:
            _preload(pending.pop(0))
            continue
        connection, _ = listener.accept()
        sys.stdout.flush()
        sys.stderr.flush()
        if os.fork() == 0:
            listener.close()
            _child(connection)
        connection.close()


def step_parts(full_command: list[str]) -> tuple[str, list[str]] | None:
    """(component source, executor arguments) of a lightweight component's command."""
    if len(full_command) < 4 or full_command[:2] != ["sh", "-ec"]:
        return None
    if not all(mark in full_command[2] for mark in KFP_SCRIPT_MARKS):
        return None
    return full_command[3], full_command[4:]


class WarmServer:
    """The server process of one run, and the replacement for kfp.local's step launcher."""

    def __init__(self) -> None:
        self.folder: Path | None = None
        self.path = ""
        self.process: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()

    def _start(self) -> subprocess.Popen[bytes]:
        """Started at the first step that runs: a fully cached run never pays for it."""
        with self._lock:
            if self.process is None:
                # A short path of its own: a Unix socket's path holds at most 107 bytes.
                self.folder = Path(tempfile.mkdtemp(prefix="kfops-steps-"))
                self.path = str(self.folder / "sock")
                self.process = subprocess.Popen(
                    [sys.executable, "-m", "kfops.runners.warm", self.path],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,  # a step's output goes back over its connection
                    stderr=subprocess.DEVNULL,
                )
            return self.process

    def _connect(self) -> socket.socket | None:
        import time

        process = self._start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline and process.poll() is None:
            client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                client.connect(self.path)
                return client
            except OSError:
                client.close()
                time.sleep(0.02)
        return None

    def run(self, full_command: list[str], env_vars: dict[str, str] | None) -> int | None:
        """Run one step in a fork; its exit status, or None when it could not be sent."""
        parts = step_parts(full_command)
        client = self._connect() if parts else None
        if parts is None or client is None:
            return None
        source, args = parts
        request = {
            "source": source,
            "args": args,
            "env": {**os.environ, **(env_vars or {})},
            "cwd": os.getcwd(),
        }
        code = 1  # a step gone without its exit line (killed) failed
        with client, client.makefile("r", encoding="utf-8", errors="replace") as lines:
            client.sendall((json.dumps(request) + "\n").encode())
            for line in lines:
                if line.startswith(EXIT_MARK):
                    code = int(line[len(EXIT_MARK) :].strip() or 1)
                    break
                print(line, end="")
        print("\n")  # as kfp.local separates a step's output from what follows
        return code

    def stop(self) -> None:
        with self._lock:
            process, folder = self.process, self.folder
        if process is None or folder is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        with contextlib.suppress(OSError):
            os.unlink(self.path)
            folder.rmdir()


@contextlib.contextmanager
def warm_steps() -> Iterator[WarmServer]:
    """Within the block, kfp.local's subprocess runner forks its steps from a warm server."""
    from kfp.local import subprocess_task_handler as handler

    server = WarmServer()
    original = handler.run_local_subprocess

    def run_local_subprocess(full_command: list[str], env_vars: dict[str, str] | None = None):
        code = server.run(full_command, env_vars)
        return original(full_command, env_vars) if code is None else code

    handler.run_local_subprocess = run_local_subprocess
    try:
        yield server
    finally:
        handler.run_local_subprocess = original
        server.stop()


if __name__ == "__main__":
    serve(sys.argv[1])
