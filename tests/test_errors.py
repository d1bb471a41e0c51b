"""kfops.errors: every class's exit code and HTTP status, the one-line helpers, and the one
exit-on-error wrapper, through each entry point as a real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict
from pydantic import ValidationError as PydanticValidationError

from kfops import errors
from kfops.errors import (
    ERROR_TYPES,
    ClusterError,
    ConfigurationError,
    DataError,
    FeaturesError,
    KfopsError,
    PipelineError,
    RegistryError,
    RolloutError,
    ServingError,
    TrainingError,
    ValidationError,
    config_error,
    error_from_name,
    exit_on_error,
    format_location,
    one_line,
)

BIN = Path(sys.executable).parent

# The contract scripts and clients rely on: changing a row is a breaking change.
CODES = [
    (KfopsError, 1, 500),
    (ConfigurationError, 2, 400),
    (DataError, 3, 422),
    (ValidationError, 4, 422),
    (FeaturesError, 5, 422),
    (TrainingError, 6, 500),
    (RegistryError, 7, 502),
    (ServingError, 8, 500),
    (RolloutError, 9, 409),
    (ClusterError, 10, 502),
    (PipelineError, 11, 500),
]


@pytest.mark.parametrize(("cls", "exit_code", "http_status"), CODES)
def test_exit_code_and_http_status(cls: type[KfopsError], exit_code: int, http_status: int):
    assert (cls.exit_code, cls.http_status) == (exit_code, http_status)
    assert cls("x").exit_code == exit_code


def test_the_table_lists_every_error_class_once_with_distinct_exit_codes():
    every = {KfopsError, *KfopsError.__subclasses__()}
    assert {cls for cls, _, _ in CODES} == every == set(ERROR_TYPES.values())
    assert len({code for _, code, _ in CODES}) == len(CODES)


@pytest.mark.parametrize("cls", [cls for cls, _, _ in CODES])
def test_error_from_name_round_trip(cls: type[KfopsError]):
    rebuilt = error_from_name(type(cls("boom")).__name__, "boom")
    assert type(rebuilt) is cls and rebuilt.message == "boom" and str(rebuilt) == "boom"


def test_error_from_an_unknown_name_is_a_pipeline_error():
    rebuilt = error_from_name("KeyError", "'x'")
    assert type(rebuilt) is PipelineError and rebuilt.message == "'x'"


def test_one_line():
    assert one_line(ValueError("first  line\nsecond line")) == "first line"
    assert one_line(ValueError("")) == "ValueError"
    assert one_line("  a\tb \n c") == "a b"
    assert one_line("") == ""
    assert one_line("x" * 20, limit=10) == "xxxxxxx..."
    assert one_line("short", limit=10) == "short"


def test_format_location():
    assert format_location(("tuning", "parameters", 1, "type")) == "tuning.parameters[1].type"
    assert format_location(["data"]) == "data"
    assert format_location((0, "name")) == "[0].name"
    assert format_location(()) == ""


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid")
    size: int
    name: str = "x"


def pydantic_error(raw: dict) -> PydanticValidationError:
    with pytest.raises(PydanticValidationError) as caught:
        Section.model_validate(raw)
    return caught.value


def test_config_error_names_the_key_and_the_fix():
    unknown = config_error(pydantic_error({"size": 1, "colour": "red"}), "kfops.yaml")
    assert type(unknown) is ConfigurationError
    assert unknown.message == "kfops.yaml: unknown key 'colour'; remove it or check its spelling"
    missing = config_error(pydantic_error({}), "kfops.yaml")
    assert missing.message == "kfops.yaml: missing required key 'size'; add it"
    invalid = config_error(pydantic_error({"size": "big"}), "KFOPS_SERVING", ServingError)
    assert type(invalid) is ServingError
    assert invalid.message.startswith("KFOPS_SERVING: invalid value 'big' for 'size': ")
    several = config_error(pydantic_error({"size": "big", "a": 1, "b": 2}), "f")
    assert several.message.endswith("(and 2 more problems)")


def test_exit_on_error_as_decorator_and_context_manager(capsys):
    @exit_on_error
    def failing() -> None:
        raise DataError("data.path: churn.csv\n  (details)")

    with pytest.raises(SystemExit) as exited:
        failing()
    assert exited.value.code == DataError.exit_code
    assert capsys.readouterr().err == "kfops: error: data.path: churn.csv\n"
    with pytest.raises(SystemExit) as exited, exit_on_error:
        raise RolloutError("no rollout 'x'")
    assert exited.value.code == RolloutError.exit_code
    assert capsys.readouterr().err == "kfops: error: no rollout 'x'\n"


def test_exit_on_error_lets_bugs_and_success_through():
    with pytest.raises(KeyError), exit_on_error:
        raise KeyError("a bug keeps its traceback")
    assert exit_on_error(lambda: 42)() == 42


def test_errors_imports_only_the_standard_library():
    """The TFDV runtime imports kfops.errors with neither pydantic nor kfp installed."""
    code = (
        "import sys, kfops.errors; "
        "print(sorted(m for m in ('pydantic', 'rich', 'typer', 'kfp') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.strip() == "[]", done.stderr
    assert errors.ERROR_PREFIX == "kfops: error:"


# -- every entry point, as a process ---------------------------------------------------------


def run(command: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "NO_COLOR": "1"}
    env.pop("KUBECONFIG", None)
    return subprocess.run(
        command, capture_output=True, text=True, cwd=cwd, env=env, timeout=300, check=False
    )


def assert_one_error_line(done: subprocess.CompletedProcess[str], cls: type[KfopsError]) -> str:
    assert done.returncode == cls.exit_code, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("kfops: error: "), done.stderr
    return lines[0]


def test_kfops_cli_exits_with_the_error_code(tmp_path: Path):
    config = tmp_path / "kfops.yaml"
    config.write_text("project: churn\ndata: {path: churn.csv, target: churned}\ncolour: red\n")
    done = run([str(BIN / "kfops"), "data", "history", "-c", str(config)], tmp_path)
    line = assert_one_error_line(done, ConfigurationError)
    assert "unknown key 'colour'" in line
    assert done.stdout == ""


def test_kubectl_plugin_exits_with_the_error_code(tmp_path: Path):
    missing = tmp_path / "no-such-kubeconfig"
    command = [str(BIN / "kubectl-kfops"), "rollout", "get", "churn", "--kubeconfig", str(missing)]
    line = assert_one_error_line(run(command, tmp_path), ClusterError)
    assert str(missing) in line


def test_router_exits_with_the_error_code(tmp_path: Path):
    command = [sys.executable, "-m", "kfops.rollout.router.proxy", "--stable", "http://127.0.0.1:1",
               "--candidate", "http://127.0.0.1:2", "--candidate-weight", "150"]  # fmt: skip
    line = assert_one_error_line(run(command, tmp_path), ConfigurationError)
    assert "from 0 to 100" in line


def test_katib_trial_exits_with_the_error_code(tmp_path: Path):
    command = [sys.executable, "-m", "kfops.tuning.trial", "--config-json", json.dumps([1])]
    line = assert_one_error_line(run(command, tmp_path), ConfigurationError)
    assert "--config-json" in line
