"""Where TFDV runs: in this interpreter when it imports, else in the TFDV runtime.

TFDV 1.16 pins protobuf<5, pandas<2 and numpy<2, so it cannot share the main
environment (see DESIGN.md, "Environments"). The work then goes to the runtime's own
interpreter as ``python -m kfops.validation.tfdv_worker``: a JSON request on stdin, a
JSON result as the last line of stdout, TensorFlow's noise captured and kept in a log.
Inside ``worker_session()`` one runtime process answers every request, so the import
(about 22 s) is paid once rather than per call.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import select
import socket
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import kfops
from kfops.errors import KfopsError, ValidationError, error_from_name

PYTHON_ENV_VAR = "KFOPS_TFDV_PYTHON"
SERVER_ENV = "KFOPS_TFDV_SERVER"  # a warm runtime's socket (WarmTFDV), set by kfops run
WORKER_MODULE = "kfops.validation.tfdv_worker"
TFDV_MODULE = "tensorflow_data_validation"
DEFAULT_TIMEOUT_S = 1800.0


def package_parent() -> Path:
    """The directory that holds the ``kfops`` package: the worker's PYTHONPATH."""
    return Path(kfops.__file__).resolve().parents[1]


def default_python() -> Path:
    """``<repo>/runtimes/tfdv/.venv/bin/python``, as ``make setup`` creates it."""
    return package_parent() / "runtimes" / "tfdv" / ".venv" / "bin" / "python"


def tfdv_python(environ: Mapping[str, str] | None = None) -> Path:
    """The TFDV runtime's interpreter: ``$KFOPS_TFDV_PYTHON``, else the default path.

    Not resolved: a virtualenv's ``python`` is a symlink that must stay one.
    """
    environ = os.environ if environ is None else environ
    configured = environ.get(PYTHON_ENV_VAR, "").strip()
    return Path(configured).expanduser() if configured else default_python()


def tfdv_importable() -> bool:
    """True when TFDV is installed here; checked without paying for its 22 s import."""
    return importlib.util.find_spec(TFDV_MODULE) is not None


def check_python(python: Path) -> Path:
    if not (python.is_file() and os.access(python, os.X_OK)):
        raise ValidationError(
            f"TFDV runtime not found: {python} is not an executable Python; "
            f"run `make setup` to create it, or set {PYTHON_ENV_VAR} to a Python "
            "with tensorflow-data-validation 1.16"
        )
    return python


def worker_env(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The subprocess environment: this package on PYTHONPATH and TensorFlow quiet.

    PYTHONPATH is replaced, not extended: an inherited one could point at the main
    environment's site-packages and shadow the runtime's pinned libraries.
    """
    env = dict(os.environ if environ is None else environ)
    env.pop("PYTHONHOME", None)
    env["PYTHONPATH"] = str(package_parent())
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _decode(stdout: str) -> dict[str, Any] | None:
    try:
        payload = json.loads(_last_line(stdout))
    except ValueError:
        return None
    return payload if isinstance(payload, dict) else None


def _unwrap(payload: dict[str, Any]) -> dict[str, Any]:
    """The worker's answer is ``{"ok": true, "result": ...}`` or ``{"ok": false, "error": ...}``."""
    if payload.get("ok"):
        return payload["result"]
    error = payload.get("error") or {}
    raise error_from_name(str(error.get("type")), str(error.get("message")))


def run_in_process(request: dict[str, Any]) -> dict[str, Any]:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from kfops.validation import tfdv_worker

    return tfdv_worker.run(request)


def _write_log(log_path: Path | None, command: list[str], code: int | None, out: str, err: str):
    if log_path is None:
        return
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log_path.write_text(
        f"$ {' '.join(command)}\nexit code {code}\n--- stdout\n{out}\n--- stderr\n{err}"
    )


def _failure(python: Path, code: int | None, stderr: str, log_path: Path | None) -> ValidationError:
    where = f"; full output in {log_path}" if log_path is not None else ""
    cause = _last_line(stderr) or "no error output"
    return ValidationError(f"TFDV runtime {python} failed (exit code {code}): {cause}{where}")


def _timed_out(python: Path, timeout: float) -> ValidationError:
    return ValidationError(
        f"TFDV runtime {python} did not finish within {timeout:g} s; "
        "check the data size or run the worker by hand to see where it hangs"
    )


def _not_started(python: Path, exc: OSError) -> ValidationError:
    return ValidationError(
        f"TFDV runtime {python} could not be started ({exc.strerror}); "
        f"run `make setup` or set {PYTHON_ENV_VAR}"
    )


def run_subprocess(
    request: dict[str, Any],
    python: Path | None = None,
    log_path: Path | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
    module: str = WORKER_MODULE,
) -> dict[str, Any]:
    """Run a worker ``module`` (validation's, or the drift check's) once in the TFDV runtime;
    its errors come back as the same KfopsError."""
    python = check_python(python or tfdv_python())
    command = [str(python), "-m", module]
    try:
        done = subprocess.run(
            command,
            input=json.dumps(request),
            capture_output=True,
            text=True,
            env=worker_env(),
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise _timed_out(python, timeout) from exc
    except OSError as exc:
        raise _not_started(python, exc) from exc
    payload = _decode(done.stdout)
    shown = done.stdout if payload is None else "(one JSON line, read)"
    _write_log(log_path, command, done.returncode, shown, done.stderr)
    if payload is None or "ok" not in payload:
        raise _failure(python, done.returncode, done.stderr, log_path)
    return _unwrap(payload)


class WorkerSession:
    """One TFDV runtime process (``tfdv_worker --serve``) answering many requests.

    Its stderr goes to a file opened for appending, so the share written during each
    request can be read back for that request's log.
    """

    def __init__(self, python: Path | None = None, timeout: float = DEFAULT_TIMEOUT_S) -> None:
        self.python = check_python(python or tfdv_python())
        self.timeout = timeout
        self.command = [str(self.python), "-m", WORKER_MODULE, "--serve"]
        fd, name = tempfile.mkstemp(prefix="kfops-tfdv-", suffix=".log")
        os.close(fd)
        self._stderr_path = Path(name)
        with open(self._stderr_path, "ab") as stderr:
            try:
                self._process = subprocess.Popen(
                    self.command,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=stderr,
                    env=worker_env(),
                )
            except OSError as exc:
                self._stderr_path.unlink(missing_ok=True)
                raise _not_started(self.python, exc) from exc

    def _stderr_from(self, offset: int) -> str:
        with open(self._stderr_path, "rb") as stderr:
            stderr.seek(offset)
            return stderr.read().decode("utf-8", errors="replace")

    def request(self, request: dict[str, Any], log_path: Path | None = None) -> dict[str, Any]:
        offset = self._stderr_path.stat().st_size
        process = self._process
        line = b""
        try:
            assert process.stdin is not None and process.stdout is not None
            process.stdin.write(json.dumps(request).encode() + b"\n")
            process.stdin.flush()
            ready, _, _ = select.select([process.stdout], [], [], self.timeout)
            if not ready:
                process.kill()
                raise _timed_out(self.python, self.timeout)
            line = process.stdout.readline()
        except (BrokenPipeError, OSError):
            line = b""
        text = line.decode("utf-8", errors="replace")
        payload = _decode(text)
        stderr = self._stderr_from(offset)
        code = process.poll() if payload is None else None
        _write_log(log_path, self.command, code, text if payload is None else "(read)", stderr)
        if payload is None or "ok" not in payload:
            if code is None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    code = process.wait(timeout=5)
            raise _failure(self.python, code, self._stderr_from(offset), log_path)
        return _unwrap(payload)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            if self._process.stdin is not None:
                self._process.stdin.close()
        try:
            self._process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        if self._process.stdout is not None:
            self._process.stdout.close()
        self._stderr_path.unlink(missing_ok=True)


class WarmTFDV:
    """A TFDV runtime process started ahead of the step that needs it (``kfops run``
    starts one while ingest runs), so TensorFlow's import overlaps other work.

    The Unix socket is bound and listening here, then handed to the server
    (``tfdv_worker --listen-fd``) and closed on this side: a request sent while the
    server still imports waits in the backlog, and once the server is gone a connection
    is refused, so the step runs the worker itself. Its path goes to the steps in
    ``$KFOPS_TFDV_SERVER`` (:func:`run_worker` checks it).
    """

    def __init__(self, path: str, python: Path | None = None) -> None:
        self.path = path
        self.python = check_python(python or tfdv_python())
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            listener.bind(path)
            listener.listen(8)
            fd = listener.fileno()
            self._process = subprocess.Popen(
                [str(self.python), "-m", WORKER_MODULE, "--listen-fd", str(fd)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,  # each request's output goes back with its answer
                env=worker_env(),
                pass_fds=(fd,),
            )
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(path)
            raise _not_started(self.python, exc) from exc
        finally:
            listener.close()

    def close(self) -> None:
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        with contextlib.suppress(OSError):
            os.unlink(self.path)


def _run_on_server(
    path: str, request: dict[str, Any], log_path: Path | None, timeout: float
) -> dict[str, Any] | None:
    """The answer of the warm server on ``path``, or None when there is none to answer
    (not started, gone, or gone mid-way): then the worker runs as a subprocess."""
    reply = None
    with (
        contextlib.suppress(OSError, ValueError),
        socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client,
    ):
        client.connect(path)
        client.sendall(json.dumps(request).encode() + b"\n")
        ready, _, _ = select.select([client], [], [], timeout)
        if not ready:
            raise _timed_out(Path(path), timeout)
        with client.makefile("rb") as stream:
            reply = json.loads(stream.readline())
    if not isinstance(reply, dict) or not isinstance(reply.get("answer"), dict):
        return None
    payload = reply["answer"]
    command = [f"(warm TFDV runtime on {path})"]
    _write_log(log_path, command, None, "(read)", str(reply.get("log", "")))
    if "ok" not in payload:
        return None
    return _unwrap(payload)


_SESSION: ContextVar[WorkerSession | None] = ContextVar("kfops_tfdv_session", default=None)


@contextlib.contextmanager
def worker_session(
    python: Path | None = None, timeout: float = DEFAULT_TIMEOUT_S
) -> Iterator[WorkerSession | None]:
    """Within the block, subprocess TFDV work goes to one long-lived runtime process.

    Yields None (and starts nothing) when TFDV runs in-process anyway.
    """
    if tfdv_importable():
        yield None
        return
    session = WorkerSession(python, timeout)
    token = _SESSION.set(session)
    try:
        yield session
    finally:
        _SESSION.reset(token)
        session.close()


def run_worker(
    request: dict[str, Any],
    in_process: bool | None = None,
    python: Path | None = None,
    log_path: Path | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
) -> dict[str, Any]:
    """Run the TFDV work for ``request`` here or in the runtime, and return its result.

    Args:
        request: Plain JSON values (paths, column names, thresholds), see tfdv_worker.run.
        in_process: Force one mode; None picks in-process exactly when TFDV is importable.
        python: The runtime's interpreter; defaults to tfdv_python().
        log_path: Where to keep the subprocess's captured stdout and stderr.
        timeout: Seconds before the subprocess is given up on.
    """
    if in_process is None:
        in_process = tfdv_importable()
    if in_process:
        try:
            return run_in_process(request)
        except KfopsError:
            raise
        except Exception as exc:
            detail = " ".join(str(exc).split())
            raise ValidationError(f"TFDV failed: {type(exc).__name__}: {detail}") from exc
    session = _SESSION.get()
    if session is not None and python is None:
        return session.request(request, log_path=log_path)
    server = os.environ.get(SERVER_ENV, "")
    if server and python is None:
        answer = _run_on_server(server, request, log_path, timeout)
        if answer is not None:
            return answer
    return run_subprocess(request, python=python, log_path=log_path, timeout=timeout)
