"""``kfops new step NAME``: scaffold a user step and the test that runs it locally.

The step is a plain typed function in the project's package (``<package>/steps/<name>.py``),
the shape ``steps:`` in kfops.yaml names; the test calls it on rows of the project's own
data, then runs it through kfops' step executor exactly as the pipeline will, no KFP
needed. Nothing is overwritten: an existing file stops the command before it writes.
"""

from __future__ import annotations

import re
from pathlib import Path
from string import Template
from typing import Annotated

import typer

from kfops.cli.common import console
from kfops.config import CONFIG_FILENAME, StepPoint
from kfops.errors import ConfigurationError, exit_on_error

STEP_NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
PACKAGE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

FRAME_STEP = Template('''"""$name: runs after $after on each split; what it returns is what the next steps see."""

import pandas as pd


def $function(frame: pd.DataFrame, split: str) -> pd.DataFrame:
    """Return the $after output for ``split`` ("train" or "test"), changed as the model needs.

    Keep the columns the model is served with: a column added here is not in a request.
    Filter or fix rows here; compute features inside the model (model.preprocessing).
    """
    return frame
''')

MODEL_STEP = Template('''"""$name: runs after evaluate, before the gate; its metrics join the candidate's run."""

import pandas as pd


def $function(model, test: pd.DataFrame, target: str) -> dict[str, float]:
    """Check the fitted model on the test split; raise to stop the run before register."""
    predictions = model.predict(test.drop(columns=[target]))
    return {"${function}_rows": float(len(predictions))}
''')

FRAME_TEST = Template('''"""The $name step on the project's own rows: on its own, then as the pipeline runs it."""

from pathlib import Path

import pandas as pd

from kfops.config import config_to_dict, load_config
from kfops.data.ingest import read_dataset
from kfops.steps.user_step import run_frame_step
from $module import $function

PROJECT = Path(__file__).resolve().parents[1]
STEP = "$entry"


def sample() -> pd.DataFrame:
    cfg = load_config(PROJECT / "$config")
    return read_dataset(cfg.data.path, cfg.data.format).head(200)


def test_${function}_returns_a_frame() -> None:
    out = $function(sample(), split="train")
    assert isinstance(out, pd.DataFrame) and len(out) > 0


def test_${function}_runs_as_the_pipeline_runs_it(tmp_path: Path) -> None:
    cfg = load_config(PROJECT / "$config", overrides=[f"steps=[{STEP}]"])
    inputs = {split: str(tmp_path / f"{split}.parquet") for split in ("train", "test")}
    for path in inputs.values():
        sample().to_parquet(path)
    outputs = {split: str(tmp_path / "out" / split) for split in ("train", "test")}
    result = run_frame_step(config_to_dict(cfg), "$name", inputs, outputs)
    assert result.rows["train"] > 0
    assert len(pd.read_parquet(outputs["train"])) == result.rows["train"]
''')

MODEL_TEST = Template('''"""The $name step on a model fitted to the project's own rows, as the pipeline runs it."""

from pathlib import Path

from kfops.config import TaskType, config_to_dict, load_config
from kfops.data.ingest import infer_task, read_dataset
from kfops.steps.user_step import run_model_step
from kfops.training.estimator import save_model, train_model

PROJECT = Path(__file__).resolve().parents[1]
STEP = "$entry"


def test_${function}_returns_metrics(tmp_path: Path) -> None:
    cfg = load_config(PROJECT / "$config", overrides=[f"steps=[{STEP}]"])
    frame = read_dataset(cfg.data.path, cfg.data.format).head(300)
    task = TaskType(cfg.data.task or infer_task(frame[cfg.data.target]))
    model = train_model(frame, cfg.data, cfg.model, task, code_root=str(PROJECT))
    save_model(model, str(tmp_path / "model.pkl"))
    frame.to_parquet(tmp_path / "test.parquet")
    model_path, test_path = str(tmp_path / "model.pkl"), str(tmp_path / "test.parquet")
    result = run_model_step(config_to_dict(cfg), "$name", model_path, test_path, run_id="")
    assert result.metrics
''')

CONFTEST = '''"""The project's package imports in its tests as it does in a kfops run."""

from pathlib import Path

from kfops.training.user_code import add_code_root

add_code_root(str(Path(__file__).resolve().parents[1]))
'''


def _package(project: Path, package: str | None) -> str:
    if package is not None:
        if not PACKAGE_NAME.match(package):
            raise ConfigurationError(
                f"--package: '{package}' is not a Python package name; use letters, digits, _"
            )
        return package
    found = sorted(
        p.parent.name
        for p in project.glob("*/__init__.py")
        if p.parent.name not in {"tests", "test"} and PACKAGE_NAME.match(p.parent.name)
    )
    if len(found) != 1:
        raise ConfigurationError(
            f"--package: {project} holds {len(found)} packages ({', '.join(found) or 'none'}); "
            "name the one the step goes in, e.g. --package my_project"
        )
    return found[0]


def scaffold_step(
    project: Path, name: str, after: StepPoint, package: str | None, config: str
) -> list[Path]:
    """Write the step module and its test; nothing when a file is already there."""
    if not STEP_NAME.match(name) or len(name) > 42:
        raise ConfigurationError(
            f"NAME: '{name}' is not a step name; use lower-case words joined by dashes, "
            "e.g. drop-outliers"
        )
    if not (project / config).is_file():
        raise ConfigurationError(
            f"--config: {project / config}: no such file; run in the folder of kfops.yaml"
        )
    package = _package(project, package)
    function = name.replace("-", "_")
    module = f"{package}.steps.{function}"
    model_step = after is StepPoint.EVALUATE
    params = f", params: {{target: {_target(project / config)}}}" if model_step else ""
    fields = {
        "name": name,
        "after": after.value,
        "function": function,
        "module": module,
        "config": config,
        "entry": f"{{name: {name}, after: {after.value}, function: {module}.{function}{params}}}",
    }
    if (project / package / "steps.py").is_file():
        raise ConfigurationError(
            f"{project / package / 'steps.py'}: a steps/ package would hide this module; "
            "move its functions into steps/<name>.py first"
        )
    files = {
        project / package / "__init__.py": "",
        project / "tests" / "conftest.py": CONFTEST,
        project / package / "steps" / "__init__.py": '"""The project\'s own pipeline steps."""\n',
        project / package / "steps" / f"{function}.py": (
            MODEL_STEP if model_step else FRAME_STEP
        ).substitute(fields),
        project / "tests" / f"test_{function}.py": (
            MODEL_TEST if model_step else FRAME_TEST
        ).substitute(fields),
    }
    shared = {"__init__.py", "conftest.py"}  # kept when already there
    created = [path for path in files if not path.exists() or path.name not in shared]
    taken = [path for path in created if path.exists()]
    if taken:
        raise ConfigurationError(
            f"{taken[0]}: already there; choose another step name or remove the file"
        )
    for path in created:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(files[path])
    return created


def _target(config: Path) -> str:
    from kfops.config import load_config

    return load_config(config).data.target


def snippet(name: str, after: StepPoint, package: str, target: str) -> str:
    function = name.replace("-", "_")
    lines = [
        "steps:",
        f"  - name: {name}",
        f"    after: {after.value}",
        f"    function: {package}.steps.{function}.{function}",
    ]
    if after is StepPoint.EVALUATE:
        lines.append(f"    params: {{target: {target}}}")
    return "\n".join(lines)


def register(app: typer.Typer) -> None:
    new_app = typer.Typer(name="new", help="Scaffold the project's own code.", no_args_is_help=True)

    @new_app.command("step")
    @exit_on_error
    def step(
        name: Annotated[str, typer.Argument(help="The step's name, e.g. drop-outliers.")],
        after: Annotated[
            StepPoint, typer.Option("--after", help="The built-in step it follows.")
        ] = StepPoint.FEATURES,
        package: Annotated[
            str | None,
            typer.Option("--package", help="The project's package (default: the only one)."),
        ] = None,
        directory: Annotated[
            Path, typer.Option("--dir", help="The project folder (holds kfops.yaml).")
        ] = Path("."),
        config: Annotated[
            str, typer.Option("--config", "-c", help="The config file in that folder.")
        ] = CONFIG_FILENAME,
    ) -> None:
        """Write <package>/steps/<name>.py and tests/test_<name>.py; print the steps: entry."""
        project = directory.resolve()
        written = scaffold_step(project, name, after, package, config)
        for path in written:
            console.print(f"wrote {path.relative_to(project)}", soft_wrap=True)
        chosen = (project / package).name if package else _package(project, None)
        entry = snippet(name, after, chosen, _target(project / config))
        console.print(f"add to {config}:\n{entry}", soft_wrap=True)

    app.add_typer(new_app)
