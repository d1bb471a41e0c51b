"""The committed KFP IR is current and loads back as a component."""

from pathlib import Path

from kfp.components import load_component_from_file

from kfops.config import load_config
from kfops.registry.champion import GateDecision
from kfops.runners.compile import COMPILED_DIR, compile_pipelines, stale_files


def test_compiled_yaml_is_current(repo):
    cfg = load_config(repo / "examples" / "churn" / "kfops.yaml")
    assert stale_files(cfg, COMPILED_DIR) == []


def test_promote_runs_when_register_returns_the_gate_enum_value():
    import yaml

    for name in ("training.yaml", "training-tuned.yaml"):
        tasks = yaml.safe_load((COMPILED_DIR / name).read_text())["root"]["dag"]["tasks"]
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
    path, tuned = compile_pipelines(cfg, tmp_path)
    assert "comp-tune" in tuned.read_text() and "comp-tune" not in path.read_text()
    component = load_component_from_file(str(path))
    assert component.name == "kfops-training"
    assert set(component.component_spec.inputs) == {"config", "data_config", "data_fingerprint"}
    text = path.read_text()
    assert "registry.example/kfops-gpu:1" in text
    assert "registry.example/kfops:1" in text
    assert cfg.cluster.tfdv_image in text
    assert "4Gi" in text or "4294967296" in text or "memoryLimit" in text
