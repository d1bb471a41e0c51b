"""The local driver's world: which registry its alias moves go to."""

from __future__ import annotations

from pathlib import Path

import pytest

from kfops.config import load_config
from kfops.config.rollout import RolloutPlan
from kfops.rollout.drivers.local_rollout import local_world
from kfops.rollout.drivers.store import RolloutRecord
from kfops.rollout.engine.status import RolloutStatus


def _record() -> RolloutRecord:
    plan = RolloutPlan.model_validate({"strategy": {"canary": {"steps": [{"setWeight": 50}]}}})
    spec = plan.resolve(model="m", stable="1", candidate="2")
    return RolloutRecord(name="m", spec=spec, status=RolloutStatus())


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "kfops.yaml"
    path.write_text("project: demo\ndata: {path: d.csv, target: y}\n")
    return path


def test_aliases_follow_the_mlflow_environment_when_the_config_is_silent(
    config_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tracking = f"sqlite:///{tmp_path / 'tracking.db'}"
    registry = f"sqlite:///{tmp_path / 'registry.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking)
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", registry)
    world = local_world(load_config(config_file), _record())
    assert (world.aliases.tracking_uri, world.aliases.registry_uri) == (tracking, registry)


def test_the_config_wins_over_the_environment(
    config_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", f"sqlite:///{tmp_path / 'env.db'}")
    cfg = load_config(config_file, overrides=[f"tracking.registry_uri=sqlite:///{tmp_path}/c.db"])
    world = local_world(cfg, _record())
    assert world.aliases.registry_uri == f"sqlite:///{tmp_path}/c.db"
