"""Steps forked from the warm server, through real kfp.local: outputs, failures and
crashes stay each step's own, and the server keeps serving."""

import os
from pathlib import Path

import pytest
from kfp import dsl, local
from kfp.local import subprocess_task_handler

from components.promote import component as promote_c
from kfops.runners.local import LOCAL_IMAGE
from kfops.runners.warm import step_parts, warm_steps

pytestmark = pytest.mark.slow  # the server imports pandas, scikit-learn and MLflow first


def where(marker: str) -> str:
    import os

    return f"{marker} pid={os.getpid()} ppid={os.getppid()} env={os.environ.get('KFOPS_T', '')}"


def fails(message: str) -> str:
    raise RuntimeError(message)


def crashes() -> str:
    import os
    import signal

    os.kill(os.getpid(), signal.SIGKILL)
    return "never"


def component(func):
    return dsl.component(func, base_image=LOCAL_IMAGE, install_kfp_package=False)


def test_a_real_component_command_is_recognised() -> None:
    spec = promote_c.build(LOCAL_IMAGE).pipeline_spec
    container = next(iter(spec.deployment_spec["executors"].values()))["container"]
    command = [*container["command"], *container["args"]]
    parts = step_parts(command)
    assert parts is not None
    source, args = parts
    assert "def promote(" in source
    assert args[-2:] == ["--function_to_execute", "promote"]
    assert step_parts(["sh", "-c", "echo hello"]) is None


def test_steps_run_forked_from_the_server_and_fail_alone(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KFOPS_T", "from the run")
    local.init(
        runner=local.SubprocessRunner(use_venv=False),
        pipeline_root=str(tmp_path / "root"),
        raise_on_error=False,
        enable_caching=False,
    )
    original = subprocess_task_handler.run_local_subprocess
    with warm_steps() as server:
        first = component(where)(marker="one")
        failed = component(fails)(message="this step fails")
        crashed = component(crashes)()
        second = component(where)(marker="two")
        assert server.process is not None and server.process.poll() is None
        server_pid = server.process.pid
    assert subprocess_task_handler.run_local_subprocess is original
    assert server.process.poll() is not None, "the server ends with the block"

    outputs = [first.output, second.output]
    for marker, output in zip(("one", "two"), outputs, strict=True):
        assert output.startswith(f"{marker} pid=")
        assert f"ppid={server_pid}" in output, "forked from the warm server"
        assert output.endswith("env=from the run"), "the run's environment reaches the step"
    assert len({o.split()[1] for o in outputs}) == 2, "each step its own process"
    assert int(outputs[0].split()[1].removeprefix("pid=")) != os.getpid()
    assert not failed.outputs, "a failed step has no outputs"
    assert not crashed.outputs, "a step killed mid-way failed, and the next one still ran"
