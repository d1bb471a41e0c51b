"""The committed KFP IR is current and loads back as a component."""

from pathlib import Path

import pytest
from kfp.components import load_component_from_file

from kfops.config import load_config
from kfops.registry.champion import GateDecision
from kfops.runners.compile import COMPILED_DIR, compile_pipelines, stale_files

TUNED = {"name": "max_depth", "type": "int", "feasible_space": {"min": "2", "max": "4"}}


def test_compiled_yaml_is_current(repo):
    cfg = load_config(repo / "examples" / "churn" / "kfops.yaml")
    assert stale_files(cfg, COMPILED_DIR) == []


def test_promote_runs_when_register_returns_the_gate_enum_value():
    import yaml

    from pipelines.training import VARIANTS

    for name in VARIANTS:
        tasks = yaml.safe_load((COMPILED_DIR / f"{name}.yaml").read_text())["root"]["dag"]["tasks"]
        condition = tasks["condition-1"]["triggerPolicy"]["condition"]
        assert condition == (
            "inputs.parameter_values['pipelinechannel--register-Output'] == "
            f"'{GateDecision.PROMOTE.value}'"
        )


def test_compiled_ir_loads_back_with_images_and_settings(repo, tmp_path: Path):
    cfg = load_config(
        repo / "examples" / "churn" / "kfops.yaml",
        overrides=[
            "cluster.image=registry.example/kfops:1",
            "cluster.images.train=registry.example/kfops-gpu:1",
            "cluster.resources.train.memory_limit=4Gi",
        ],
    )
    written = {p.stem: p for p in compile_pipelines(cfg, tmp_path)}
    path, tuned = written["training"], written["training-tuned"]
    assert "comp-tune" in tuned.read_text() and "comp-tune" not in path.read_text()
    assert "comp-deploy" in written["training-tuned-deploy"].read_text()
    assert "comp-deploy" not in tuned.read_text()
    component = load_component_from_file(str(path))
    assert component.name == "kfops-training"
    assert set(component.component_spec.inputs) == {"config", "data_config", "data_fingerprint"}
    text = path.read_text()
    assert "registry.example/kfops-gpu:1" in text
    assert "registry.example/kfops:1" in text
    assert cfg.cluster.tfdv_image in text
    assert "4Gi" in text or "4294967296" in text or "memoryLimit" in text


def compiled(tmp_path: Path, **options: bool) -> dict:
    import yaml
    from kfp import compiler

    from pipelines.training import build_training_pipeline

    target = tmp_path / "pipeline.yaml"
    pipeline = build_training_pipeline(lambda component: "example.org/kfops:1", **options)
    compiler.Compiler().compile(pipeline, str(target))
    return yaml.safe_load(target.read_text())


@pytest.mark.parametrize("with_tuning", [False, True])
def test_deploy_runs_only_in_the_winning_branch_when_configured(tmp_path: Path, with_tuning):
    ir = compiled(tmp_path, with_tuning=with_tuning, with_deploy=True)
    assert "deploy" not in ir["root"]["dag"]["tasks"]
    branch = ir["components"]["comp-condition-1"]["dag"]["tasks"]
    assert set(branch) == {"promote", "deploy"}
    deploy = branch["deploy"]
    assert deploy["dependentTasks"] == ["promote"]
    assert deploy["inputs"]["parameters"]["model_version"]["taskOutputParameter"] == {
        "outputParameterKey": "Output",
        "producerTask": "promote",
    }
    assert deploy["cachingOptions"] == {}, "a deploy is never a cache hit"
    condition = ir["root"]["dag"]["tasks"]["condition-1"]["triggerPolicy"]["condition"]
    assert condition.endswith(f"== '{GateDecision.PROMOTE.value}'")
    executor = ir["deploymentSpec"]["executors"]["exec-deploy"]["container"]
    assert executor["image"] == "example.org/kfops:1"

    without = compiled(tmp_path, with_tuning=with_tuning)
    assert "comp-deploy" not in without["components"]
    assert set(without["components"]["comp-condition-1"]["dag"]["tasks"]) == {"promote"}


@pytest.mark.parametrize(
    ("sections", "variant"),
    [
        ({}, "training"),
        ({"tuning": {"parameters": [TUNED]}}, "training-tuned"),
        ({"serving": {}}, "training-deploy"),
        ({"serving": {}, "tuning": {"parameters": [TUNED]}}, "training-tuned-deploy"),
    ],
)
def test_the_config_chooses_the_graph(sections: dict, variant: str):
    from pipelines.training import VARIANTS, graph_options, variant_for

    cfg = load_config(raw={"project": "p", "data": {"path": "d.csv", "target": "y"}, **sections})
    assert variant_for(cfg) == variant
    assert {k: v for k, v in graph_options(cfg).items() if v} == VARIANTS[variant]


def test_every_graph_is_committed_and_current(repo, tmp_path: Path):
    """Each of the four graphs, compiled from the bundled example as `kfops compile` does,
    is the committed file (the deploy variants included)."""
    from kfp import compiler

    from kfops.cluster.task_settings import apply_task_settings, image_for
    from pipelines.training import VARIANTS, build_training_pipeline

    cfg = load_config(repo / "examples" / "churn" / "kfops.yaml")
    for name, options in VARIANTS.items():
        pipeline = build_training_pipeline(
            lambda component: image_for(component, cfg.cluster),
            lambda task, component: apply_task_settings(task, component, cfg.cluster),
            **options,
        )
        fresh = tmp_path / f"{name}.yaml"
        compiler.Compiler().compile(pipeline, str(fresh))
        committed = COMPILED_DIR / fresh.name
        assert committed.is_file() and committed.read_text() == fresh.read_text(), (
            f"{committed} is stale: kfops compile --config examples/churn/kfops.yaml"
        )
        assert ("comp-deploy" in fresh.read_text()) == options.get("with_deploy", False)


def test_retraining_trains_only_in_the_drifted_branch(tmp_path: Path) -> None:
    import yaml
    from kfp import compiler

    from pipelines.retraining import build_retraining_pipeline

    target = tmp_path / "retraining.yaml"
    pipeline = build_retraining_pipeline(lambda component: "example.org/kfops:1", with_deploy=True)
    compiler.Compiler().compile(pipeline, str(target))
    ir = yaml.safe_load(target.read_text())
    root = ir["root"]["dag"]["tasks"]
    assert set(root) == {"drift", "condition-1"}
    assert root["drift"]["cachingOptions"] == {}  # never served from the cache
    trigger = root["condition-1"]["triggerPolicy"]["condition"]
    assert trigger == "inputs.parameter_values['pipelinechannel--drift-Output'] == true"
    branch = ir["components"]["comp-condition-1"]["dag"]["tasks"]
    assert {"ingest", "validate", "train", "register", "condition-2"} <= set(branch)
    gate = ir["components"]["comp-condition-2"]["dag"]["tasks"]
    assert set(gate) == {"promote", "deploy"}
    assert set(ir["root"]["inputDefinitions"]["parameters"]) == {
        "config", "data_config", "data_fingerprint", "since", "force"
    }  # fmt: skip
