"""``kfops new step``: the scaffolded step and its test, which pass as written."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kfops.cli.main import app

PROJECT = Path(__file__).resolve().parents[1] / "user_project"
REPO = PROJECT.parents[1]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the example project whose data paths hold outside the repository."""
    target = tmp_path / "project"
    shutil.copytree(PROJECT, target, ignore=shutil.ignore_patterns("__pycache__", ".kfops"))
    for config in target.glob("kfops*.yaml"):
        config.write_text(config.read_text().replace("../../examples", str(REPO / "examples")))
    return target


def new_step(project: Path, *args: str):
    return CliRunner().invoke(app, ["new", "step", *args, "--dir", str(project)])


def test_new_step_writes_the_module_its_test_and_prints_the_entry(project: Path) -> None:
    result = new_step(project, "fix-rows")
    assert result.exit_code == 0, result.output
    module = project / "acme_ml" / "steps" / "fix_rows.py"
    assert "def fix_rows(frame: pd.DataFrame, split: str) -> pd.DataFrame:" in module.read_text()
    assert (project / "tests" / "test_fix_rows.py").is_file()
    assert (project / "tests" / "conftest.py").is_file()
    assert "function: acme_ml.steps.fix_rows.fix_rows" in result.output
    assert "after: features" in result.output


def test_new_step_after_evaluate_takes_the_model_and_the_target(project: Path) -> None:
    result = new_step(project, "check-model", "--after", "evaluate")
    assert result.exit_code == 0, result.output
    module = (project / "acme_ml" / "steps" / "check_model.py").read_text()
    assert "def check_model(model, test: pd.DataFrame, target: str) -> dict[str, float]:" in module
    assert "params: {target: churned}" in result.output


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (["Fix_Rows"], "NAME: 'Fix_Rows' is not a step name; use lower-case words"),
        (["drop-outliers"], "drop_outliers.py: already there; choose another step name"),
        (["fix-rows", "--package", "no-such"], "--package: 'no-such' is not a Python package"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(project: Path, args, match) -> None:
    before = sorted(p for p in project.rglob("*") if "__pycache__" not in p.parts)
    result = new_step(project, *args)
    assert result.exit_code == 2
    assert match in result.output and result.output.count("\n") == 1
    assert sorted(p for p in project.rglob("*") if "__pycache__" not in p.parts) == before


def test_a_folder_with_two_packages_needs_package(project: Path) -> None:
    (project / "other").mkdir()
    (project / "other" / "__init__.py").write_text("")
    result = new_step(project, "fix-rows")
    assert result.exit_code == 2
    assert "holds 2 packages (acme_ml, other); name the one" in result.output


@pytest.mark.slow
def test_the_scaffolded_tests_pass_as_written(project: Path) -> None:
    assert new_step(project, "fix-rows").exit_code == 0
    assert new_step(project, "check-model", "--after", "evaluate").exit_code == 0
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 passed" in done.stdout
