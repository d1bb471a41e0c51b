"""The model call in a child process: on its own core, outside the server's GIL.

In one process, a 30 ms forest call holds the interpreter lock most of the time, so the
event loop cannot read, check and answer other requests meanwhile; with the model in a
child process, the two overlap: while the child computes batch k, the server collects
batch k+1. Batches travel as a dict of column arrays over a pipe (a 32-row batch pickles
to a few kilobytes); outputs come back the same way.

The child receives the estimator the server already loaded (after the digest check) as
pickle bytes of that object, from its parent. If the child dies (a crash inside native
code, an out-of-memory kill), the batch in flight fails with a 500 and a new child starts.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import queue
import signal
import subprocess
import sys
import threading
from multiprocessing.connection import Connection
from typing import Any

import numpy as np

from kfops.errors import ServingError
from kfops.serving.predictor import Output

log = logging.getLogger(__name__)


def _child(inbox: Connection, outbox: Connection) -> None:
    """The child's loop: the estimator first, then one batch in, one output out."""
    # Ctrl-C reaches the whole process group; the parent decides when the child stops
    # (after draining), by closing the pipe.
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    from kfops.serving.predictor import Predictor

    predictor = Predictor(pickle.loads(inbox.recv_bytes()))
    outbox.send(("ready", None))
    while True:
        try:
            arrays = inbox.recv()
        except EOFError:
            return
        if arrays is None:
            return
        try:
            outbox.send((True, predictor.predict_columns(arrays)))
        except Exception as exc:  # the estimator's error, sent back to the batch
            try:
                outbox.send((False, exc))
            except Exception:  # it does not pickle: keep its type's name and message
                outbox.send((False, ValueError(f"{type(exc).__name__}: {exc}")))


class InferenceProcess:
    """``predict(arrays)`` runs the model in one child process; one call at a time.

    The child is ``python -m kfops.serving.worker`` talking over two inherited pipes, not a
    multiprocessing child, so it never re-imports the parent's ``__main__`` script.
    """

    def __init__(self, estimator: Any, start_timeout_s: float = 120.0) -> None:
        self._payload = pickle.dumps(estimator, protocol=pickle.HIGHEST_PROTOCOL)
        self._timeout = start_timeout_s
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._start()

    def _start(self) -> None:
        to_child, child_in = os.pipe()[::-1]
        child_out, from_child = os.pipe()[::-1]
        process = subprocess.Popen(
            [sys.executable, "-m", "kfops.serving.worker", str(child_in), str(child_out)],
            pass_fds=(child_in, child_out),
            env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"},
        )
        os.close(child_in)
        os.close(child_out)
        self._send = Connection(to_child, readable=False)
        self._recv = Connection(from_child, writable=False)
        self._process = process
        try:
            self._send.send_bytes(self._payload)
            if not self._recv.poll(self._timeout):
                raise ServingError(
                    f"the inference process did not start within {self._timeout:g} s"
                )
            self._recv.recv()
        except (EOFError, OSError) as exc:
            process.kill()
            raise ServingError(
                f"the inference process could not load the model (exit code {process.wait()})"
            ) from exc

    def predict(self, arrays: dict[str, np.ndarray]) -> Output:
        with self._lock:
            assert self._process is not None
            try:
                self._send.send(arrays)
                ok, value = self._recv.recv()
            except (EOFError, OSError) as exc:
                code = self._process.poll()
                log.error("inference process died (exit code %s); starting a new one", code)
                self._close_pipes()
                self._start()
                raise ServingError(
                    f"the inference process died during this batch (exit code {code}); "
                    "a new one has started, retry"
                ) from exc
        if not ok:
            raise value
        return value

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    def _close_pipes(self) -> None:
        for conn in (self._send, self._recv):
            with contextlib.suppress(OSError):
                conn.close()

    def close(self) -> None:
        with self._lock:
            if self._process is None:
                return
            with contextlib.suppress(OSError):
                self._send.send(None)
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(10)
            self._close_pipes()
            self._process = None


class InferencePool:
    """``workers`` child processes; each call takes a free one (the batcher runs ``workers``
    batches at once, so one is always free when it calls)."""

    def __init__(self, estimator: Any, workers: int = 1) -> None:
        self.processes = [InferenceProcess(estimator) for _ in range(workers)]
        self._free: queue.SimpleQueue[InferenceProcess] = queue.SimpleQueue()
        for process in self.processes:
            self._free.put(process)

    def predict(self, arrays: dict[str, np.ndarray]) -> Output:
        process = self._free.get()
        try:
            return process.predict(arrays)
        finally:
            self._free.put(process)

    def close(self) -> None:
        for process in self.processes:
            process.close()


if __name__ == "__main__":  # the child: python -m kfops.serving.worker IN_FD OUT_FD
    _child(
        Connection(int(sys.argv[1]), writable=False), Connection(int(sys.argv[2]), readable=False)
    )
