"""Finding the TFDV runtime and talking to it, with fake interpreters. Fast."""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

import pytest

from kfops.errors import DataError, ValidationError
from kfops.validation import runtime, tfdv_worker

REPO = Path(__file__).resolve().parents[2]

HEADER = f"""#!{sys.executable}
import json, os, sys
assert sys.argv[1:3] == ["-m", "kfops.validation.tfdv_worker"], sys.argv
"""
ECHO = """
request = json.loads(sys.stdin.read())
print("2026-01-01 I tensorflow: noise on stdout")
sys.stderr.write("W0000 noise on stderr\\n")
env = {k: os.environ.get(k) for k in ("PYTHONPATH", "TF_CPP_MIN_LOG_LEVEL", "PYTHONHOME")}
print(json.dumps({"ok": True, "result": {"request": request, "env": env}}))
"""
CRASH = """
sys.stderr.write("Traceback (most recent call last):\\n  File x\\nRuntimeError: TFDV exploded\\n")
sys.exit(3)
"""
NOT_JSON = """
print("hello, not JSON")
"""
DATA_ERROR = """
print(json.dumps({"ok": False, "error": {"type": "DataError", "message": "train split: bad"}}))
sys.exit(1)
"""
SLOW = """
import time
time.sleep(30)
"""
SERVE = """
assert sys.argv[3:] == ["--serve"], sys.argv
with open(os.environ["FAKE_LAUNCHES"], "a") as launches:
    launches.write(f"{os.getpid()}\\n")
for line in sys.stdin:
    request = json.loads(line)
    if request.get("crash"):
        sys.stderr.write("Fatal Python error: Segmentation fault\\n")
        sys.stderr.flush()
        os._exit(139)
    sys.stderr.write(f"working on {request['n']}\\n")
    sys.stderr.flush()
    print(json.dumps({"ok": True, "result": {"n": request["n"], "pid": os.getpid()}}), flush=True)
"""


def fake_python(tmp_path: Path, body: str, name: str = "python") -> Path:
    path = tmp_path / name
    path.write_text(HEADER + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, REPO / "runtimes" / "tfdv" / ".venv" / "bin" / "python"),
        ({"KFOPS_TFDV_PYTHON": ""}, REPO / "runtimes" / "tfdv" / ".venv" / "bin" / "python"),
        ({"KFOPS_TFDV_PYTHON": "/opt/tfdv/bin/python"}, Path("/opt/tfdv/bin/python")),
    ],
)
def test_tfdv_python_resolution(environ: dict[str, str], expected: Path) -> None:
    assert runtime.tfdv_python(environ) == expected


def test_tfdv_python_expands_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    assert runtime.tfdv_python({"KFOPS_TFDV_PYTHON": "~/py"}) == tmp_path / "py"


def test_package_parent_is_the_repository() -> None:
    assert runtime.package_parent() == REPO
    assert (runtime.package_parent() / "kfops" / "__init__.py").is_file()


@pytest.mark.parametrize("kind", ["missing", "not-executable"])
def test_missing_interpreter_tells_how_to_set_it_up(tmp_path: Path, kind: str) -> None:
    python = tmp_path / "python"
    if kind == "not-executable":
        python.write_text("#!/bin/sh\n")
    with pytest.raises(ValidationError, match=r"make setup.*KFOPS_TFDV_PYTHON") as caught:
        runtime.run_worker({}, in_process=False, python=python)
    assert str(python) in str(caught.value)


def test_worker_env_replaces_pythonpath_and_quiets_tensorflow() -> None:
    env = runtime.worker_env({"PYTHONPATH": "/main/site-packages", "PYTHONHOME": "/x", "A": "1"})
    assert env["PYTHONPATH"] == str(REPO)
    assert env["TF_CPP_MIN_LOG_LEVEL"] == "3"
    assert "PYTHONHOME" not in env
    assert env["A"] == "1"


def test_subprocess_round_trip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONHOME", sys.prefix)
    python = fake_python(tmp_path, ECHO)
    log = tmp_path / "out" / "worker.log"
    result = runtime.run_worker({"train_path": "t.parquet"}, False, python, log_path=log)
    assert result["request"] == {"train_path": "t.parquet"}
    assert result["env"] == {
        "PYTHONPATH": str(REPO),
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "PYTHONHOME": None,
    }
    assert "W0000 noise on stderr" in log.read_text()


def test_interpreter_from_the_environment_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(runtime.PYTHON_ENV_VAR, str(fake_python(tmp_path, ECHO)))
    monkeypatch.setattr(runtime, "tfdv_importable", lambda: False)
    assert runtime.run_worker({"x": 1})["request"] == {"x": 1}


def test_worker_crash_reports_the_last_stderr_line(tmp_path: Path) -> None:
    python = fake_python(tmp_path, CRASH)
    log = tmp_path / "worker.log"
    with pytest.raises(ValidationError) as caught:
        runtime.run_worker({}, in_process=False, python=python, log_path=log)
    message = str(caught.value)
    assert "exit code 3" in message
    assert message.endswith(f"RuntimeError: TFDV exploded; full output in {log}")
    assert "\n" not in message
    assert "Traceback" in log.read_text()


def test_non_json_output_is_a_validation_error(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match=r"exit code 0\): no error output"):
        runtime.run_worker({}, in_process=False, python=fake_python(tmp_path, NOT_JSON))


def test_worker_errors_come_back_as_the_same_type(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="^train split: bad$"):
        runtime.run_worker({}, in_process=False, python=fake_python(tmp_path, DATA_ERROR))


def test_timeout_is_a_validation_error(tmp_path: Path) -> None:
    python = fake_python(tmp_path, SLOW)
    with pytest.raises(ValidationError, match="did not finish within 0.5 s"):
        runtime.run_worker({}, in_process=False, python=python, timeout=0.5)


def test_in_process_calls_the_worker_directly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tfdv_worker, "run", lambda request: {"seen": request})
    assert runtime.run_worker({"a": 1}, in_process=True) == {"seen": {"a": 1}}


def test_in_process_is_chosen_when_tfdv_imports(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runtime, "tfdv_importable", lambda: True)
    monkeypatch.setattr(tfdv_worker, "run", lambda request: {"here": True})
    monkeypatch.setenv(runtime.PYTHON_ENV_VAR, "/nonexistent/python")
    assert runtime.run_worker({}) == {"here": True}


def test_in_process_failures_become_one_line_validation_errors(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def boom(request: dict) -> dict:
        raise RuntimeError("bad\n  thing")

    monkeypatch.setattr(tfdv_worker, "run", boom)
    with pytest.raises(ValidationError, match="^TFDV failed: RuntimeError: bad thing$"):
        runtime.run_worker({}, in_process=True)


def test_in_process_kfops_errors_pass_through(monkeypatch: pytest.MonkeyPatch) -> None:
    def bad_data(request: dict) -> dict:
        raise DataError("test split: x.parquet does not exist")

    monkeypatch.setattr(tfdv_worker, "run", bad_data)
    with pytest.raises(DataError):
        runtime.run_worker({}, in_process=True)


def test_session_answers_many_requests_with_one_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    launches = tmp_path / "launches"
    monkeypatch.setenv("FAKE_LAUNCHES", str(launches))
    monkeypatch.setenv(runtime.PYTHON_ENV_VAR, str(fake_python(tmp_path, SERVE)))
    monkeypatch.setattr(runtime, "tfdv_importable", lambda: False)
    with runtime.worker_session() as session:
        assert session is not None
        first = runtime.run_worker({"n": 1}, log_path=tmp_path / "1.log")
        second = runtime.run_worker({"n": 2}, log_path=tmp_path / "2.log")
    assert (first["n"], second["n"]) == (1, 2)
    assert first["pid"] == second["pid"]
    assert len(launches.read_text().split()) == 1
    assert "working on 2" in (tmp_path / "2.log").read_text()
    assert "working on 1" not in (tmp_path / "2.log").read_text()
    assert session._process.poll() == 0


def test_session_crash_is_a_validation_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_LAUNCHES", str(tmp_path / "launches"))
    python = fake_python(tmp_path, SERVE)
    monkeypatch.setattr(runtime, "tfdv_importable", lambda: False)
    with runtime.worker_session(python) as session:
        assert runtime.run_worker({"n": 1})["n"] == 1
        with pytest.raises(ValidationError, match=r"exit code 139\): Fatal Python error"):
            runtime.run_worker({"crash": True})
    assert session is not None and session._process.poll() == 139


def test_session_is_not_started_when_tfdv_runs_in_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runtime, "tfdv_importable", lambda: True)
    monkeypatch.setenv(runtime.PYTHON_ENV_VAR, "/nonexistent/python")
    with runtime.worker_session() as session:
        assert session is None


def test_worker_protocol_keeps_stdout_for_the_answer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    def noisy(request: dict) -> dict:
        print("library noise")
        os.write(1, b"C++ noise\n")
        return {"echo": request}

    monkeypatch.setattr(tfdv_worker, "run", noisy)
    request = tmp_path / "request.json"
    request.write_text(json.dumps({"a": 1}))
    assert tfdv_worker.main([str(request)]) == 0
    out, err = capfd.readouterr()
    assert json.loads(out) == {"ok": True, "result": {"echo": {"a": 1}}}
    assert "library noise" in err and "C++ noise" in err
    print("stdout restored")
    assert capfd.readouterr().out == "stdout restored\n"


@pytest.mark.parametrize(
    ("error", "code", "kind"),
    [(DataError("no such split"), 1, "DataError"), (KeyError("train_path"), 2, "ValidationError")],
)
def test_worker_protocol_reports_errors(
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
    error: Exception,
    code: int,
    kind: str,
) -> None:
    def fail(request: dict) -> dict:
        raise error

    monkeypatch.setattr(tfdv_worker, "run", fail)
    monkeypatch.setattr(sys, "stdin", __import__("io").StringIO("{}"))
    assert tfdv_worker.main([]) == code
    payload = json.loads(capfd.readouterr().out)
    assert payload["ok"] is False
    assert payload["error"]["type"] == kind


def test_worker_imports_neither_pydantic_nor_the_config() -> None:
    import subprocess

    code = (
        "import sys, kfops.validation.tfdv_worker; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pydantic', 'kfp', 'yaml') "
        "or m in ('kfops.config', 'kfops.validation.validate')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        check=True,
    )
    assert done.stdout.strip() == "[]"
