"""User steps in the compiled training pipeline: where they sit and what they carry."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from kfops.config import load_config
from kfops.errors import ConfigurationError
from kfops.runners.compile import compile_pipeline
from pipelines.user_steps import MODEL_CODE_ENV

PROJECT = Path(__file__).resolve().parent / "user_project"


def compiled(config: Path, tmp_path: Path, *sets: str) -> dict:
    cfg = load_config(config, list(sets) if sets else None)
    path = compile_pipeline(cfg, "training", tmp_path / "out")
    return yaml.safe_load(path.read_text())


def producer(task: dict, artifact: str) -> str:
    return task["inputs"]["artifacts"][artifact]["taskOutputArtifact"]["producerTask"]


def test_steps_compile_into_the_cluster_pipeline_at_their_points(tmp_path: Path) -> None:
    ir = compiled(PROJECT / "kfops.yaml", tmp_path)
    tasks = ir["root"]["dag"]["tasks"]
    assert producer(tasks["drop-outliers"], "train") == "features"
    # Its DataFrames are what validate, train and evaluate see.
    assert producer(tasks["validate"], "train") == "drop-outliers"
    assert producer(tasks["train"], "train") == "drop-outliers"
    assert producer(tasks["evaluate"], "test") == "drop-outliers"
    assert producer(tasks["prediction-mean"], "model") == "train"
    assert "evaluate" in tasks["prediction-mean"]["dependentTasks"]
    assert "prediction-mean" in tasks["register"]["dependentTasks"], "checks come before the gate"
    digest = tasks["drop-outliers"]["inputs"]["parameters"]["code_digest"]["runtimeValue"]
    assert len(digest["constant"]) == 64, "the package's source digest is part of the cache key"
    executor = ir["deploymentSpec"]["executors"]["exec-drop-outliers"]["container"]
    assert executor["image"] == "ghcr.io/kfops/kfops:0.1.0", "the train step's image by default"


def test_an_edit_of_the_users_code_changes_the_compiled_digest(tmp_path: Path) -> None:
    project = tmp_path / "project"
    shutil.copytree(PROJECT, project)
    before = compiled(project / "kfops.yaml", tmp_path / "a")
    (project / "acme_ml" / "steps" / "drop_outliers.py").write_text(
        (project / "acme_ml" / "steps" / "drop_outliers.py").read_text() + "\n# an edit\n"
    )
    after = compiled(project / "kfops.yaml", tmp_path / "b")

    def digest(ir: dict) -> str:
        task = ir["root"]["dag"]["tasks"]["drop-outliers"]
        return task["inputs"]["parameters"]["code_digest"]["runtimeValue"]["constant"]

    assert digest(before) != digest(after)


def test_a_component_yaml_step_is_called_with_the_inputs_it_declares(tmp_path: Path) -> None:
    ir = compiled(
        PROJECT / "kfops.yaml",
        tmp_path,
        "steps=[{name: dedupe, after: ingest, component: components/dedupe.yaml, image: x}]",
    )
    tasks = ir["root"]["dag"]["tasks"]
    assert producer(tasks["dedupe"], "train") == "ingest"
    assert producer(tasks["features"], "train") == "dedupe"
    assert set(tasks["dedupe"]["inputs"]["artifacts"]) == {"train", "test"}
    image = ir["deploymentSpec"]["executors"]["exec-dedupe"]["container"]["image"]
    assert image == "example.org/acme/dedupe:1"


def test_a_component_yaml_step_needs_the_docker_runner_and_says_so_first(tmp_path: Path) -> None:
    """The subprocess runner cannot start a container: one line naming the step, before
    anything runs or is written."""
    from kfops.runners.compile import pipeline_builder
    from kfops.runners.local import run_pipeline_locally

    cfg = load_config(
        PROJECT / "kfops.yaml",
        [
            "steps=[{name: dedupe, after: ingest, component: components/dedupe.yaml}]",
            f"runtime.root={tmp_path / 'state'}",
        ],
    )
    with pytest.raises(
        ConfigurationError, match=r"^steps\.dedupe: a KFP component YAML .* --runner docker"
    ):
        run_pipeline_locally(cfg, pipeline_builder(cfg, "training"))
    assert not (tmp_path / "state").exists()


def test_a_file_that_is_no_component_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("name: bad\nimplementation: {container: {command: [1]}}\n")
    step = f"steps=[{{name: bad, after: features, component: {tmp_path / 'bad.yaml'}}}]"
    with pytest.raises(ConfigurationError, match=r"^steps\.bad\.component: .* is not a KFP "
                       r"component YAML") as caught:  # fmt: skip
        compiled(PROJECT / "kfops.yaml", tmp_path, step)
    assert "\n" not in caught.value.message


def test_a_component_yaml_without_the_splits_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text(
        "name: bad\ninputs: [{name: data, type: Dataset}]\n"
        "implementation: {container: {image: x, command: ['true']}}\n"
    )
    with pytest.raises(ConfigurationError, match=r"^steps\.bad\.component: .*bad\.yaml lacks "
                       r"train, test, train_set, test_set"):  # fmt: skip
        compiled(
            PROJECT / "kfops.yaml",
            tmp_path,
            f"steps=[{{name: bad, after: features, component: {tmp_path / 'bad.yaml'}}}]",
        )


def test_an_edit_of_a_transformer_changes_the_train_steps_environment(tmp_path: Path) -> None:
    """Both caches key on a task's environment: train runs again after the edit."""
    project = tmp_path / "project"
    shutil.copytree(PROJECT, project)

    def code(ir: dict) -> dict[str, str]:
        executors = ir["deploymentSpec"]["executors"]
        env = {
            name: {e["name"]: e["value"] for e in spec["container"].get("env", [])}
            for name, spec in executors.items()
        }
        return {name: values.get(MODEL_CODE_ENV, "") for name, values in env.items()}

    before = code(compiled(project / "kfops.yaml", tmp_path / "a"))
    assert len(before["exec-train"]) == 64
    assert before["exec-ingest"] == before["exec-features"] == "", "only what fits the model"
    transformers = project / "acme_ml" / "transformers.py"
    transformers.write_text(transformers.read_text() + "\n# an edit\n")
    after = code(compiled(project / "kfops.yaml", tmp_path / "b"))
    assert after["exec-train"] != before["exec-train"]
    without = code(compiled(project / "kfops.yaml", tmp_path / "c", "model.preprocessing=[]"))
    assert without["exec-train"] == ""
