"""The register and promote steps on a real MLflow sqlite store, and the gate's enum."""

from __future__ import annotations

from pathlib import Path

import pytest

from components.promote import component as promote_component
from components.register import component as register_component
from kfops.registry.champion import CHALLENGER, CHAMPION, GateDecision
from kfops.steps.register import run_promote, run_register
from kfops.steps.results import PromoteResult, RegisterResult

MODEL = "churn-gate"


@pytest.fixture
def config(tmp_path: Path) -> dict:
    return {
        "project": "churn",
        "data": {"path": "churn.csv", "target": "churned"},
        "registry": {"model_name": MODEL, "min_improvement": 0.01},
        "tracking": {"uri": f"sqlite:///{tmp_path / 'mlflow.db'}"},
        "runtime": {"root": str(tmp_path / "state")},
    }


@pytest.fixture
def log_model(config: dict, tmp_path: Path):
    """Log a small scikit-learn model in a new run; returns (run id, model URI)."""
    import mlflow
    from sklearn.dummy import DummyClassifier

    from kfops.config import config_from_dict
    from kfops.registry.tracking import use_tracking

    cfg = config_from_dict(config)
    experiment = use_tracking(
        cfg.resolved_tracking_uri(), cfg.experiment_name, cfg.resolved_artifact_location()
    )
    model = DummyClassifier().fit([[0], [1]], [0, 1])

    def log() -> tuple[str, str]:
        with mlflow.start_run(experiment_id=experiment) as run:
            info = mlflow.sklearn.log_model(model, name="model", pip_requirements=[])
        return run.info.run_id, info.model_uri

    return log


def version_tags(version: str) -> dict[str, str]:
    import mlflow

    return mlflow.MlflowClient().get_model_version(MODEL, version).tags


def aliases() -> dict[str, str]:
    import mlflow

    return {a: str(v) for a, v in mlflow.MlflowClient().get_registered_model(MODEL).aliases.items()}


def test_the_first_version_is_promoted_and_a_worse_one_kept(config, log_model):
    first_run, first_uri = log_model()
    first = run_register(config, first_run, first_uri, "roc_auc", 0.80)
    assert isinstance(first, RegisterResult)
    assert first.decision is GateDecision.PROMOTE and first.gate.promote
    assert (first.version, first.gate.reason, first.gate.champion_version) == (
        "1",
        "no champion yet",
        None,
    )
    assert version_tags("1")["kfops.promotion.decision"] == GateDecision.PROMOTE.value

    assert run_promote(config, first_run) == PromoteResult(version="1", previous=None)

    worse_run, worse_uri = log_model()
    worse = run_register(config, worse_run, worse_uri, "roc_auc", 0.805)  # gain under 0.01
    assert worse.decision is GateDecision.KEEP and not worse.gate.promote
    assert (worse.version, worse.gate.champion_version, worse.gate.champion_score) == (
        "2",
        "1",
        0.80,
    )
    assert "does not beat champion v1" in worse.gate.reason
    assert version_tags("2")["kfops.promotion.decision"] == "keep"
    assert aliases() == {CHAMPION: "1", CHALLENGER: "1"}  # a loser is no candidate


def test_the_register_component_returns_the_value_the_pipeline_compares(config, log_model):
    """The component's single output is the enum's value; the promote component moves the
    champion to the run's version and returns it."""
    run_id, uri = log_model()
    decision = register_component.register(config, run_id, uri, "roc_auc", 0.9)
    assert decision == "promote" and GateDecision(decision) is GateDecision.PROMOTE
    assert type(decision) is str  # a KFP String output, not the enum object
    assert promote_component.promote(config, run_id) == "1"
    assert aliases()[CHAMPION] == "1"


def test_the_gate_enum_is_the_strings_the_pipeline_and_tags_use():
    assert [d.value for d in GateDecision] == ["promote", "keep"]
    assert GateDecision("keep") is GateDecision.KEEP and GateDecision.PROMOTE == "promote"


ROLLOUT_PLAN = {
    "strategy": {"canary": {"steps": [{"setWeight": 50}]}},
}


def test_a_rejected_version_gets_no_alias(config, log_model):
    """Direct promotion (no rollout: section): the loser keeps no alias and champion stays."""
    first_run, first_uri = log_model()
    run_register(config, first_run, first_uri, "roc_auc", 0.80)
    run_promote(config, first_run)
    worse_run, worse_uri = log_model()
    worse = run_register(config, worse_run, worse_uri, "roc_auc", 0.70)
    assert worse.decision is GateDecision.KEEP
    assert aliases() == {CHAMPION: "1", CHALLENGER: "1"}
    assert version_tags("2")["kfops.promotion.decision"] == "keep"


def test_with_a_rollout_the_gate_moves_challenger_and_leaves_champion(config, log_model):
    """registry.promotion defaults to rollout when rollout: is set: the first version is
    champion at once, a later winner only challenger, a loser nothing."""
    config = {**config, "rollout": ROLLOUT_PLAN}
    first_run, first_uri = log_model()
    assert run_register(config, first_run, first_uri, "roc_auc", 0.80).decision is (
        GateDecision.PROMOTE
    )
    assert run_promote(config, first_run) == PromoteResult(version="1", previous=None, moved=True)
    assert aliases() == {CHAMPION: "1", CHALLENGER: "1"}

    better_run, better_uri = log_model()
    better = run_register(config, better_run, better_uri, "roc_auc", 0.90)
    assert better.decision is GateDecision.PROMOTE
    held = run_promote(config, better_run)
    assert held == PromoteResult(version="2", previous="1", moved=False)
    assert aliases() == {CHAMPION: "1", CHALLENGER: "2"}

    worse_run, worse_uri = log_model()
    assert run_register(config, worse_run, worse_uri, "roc_auc", 0.50).decision is (
        GateDecision.KEEP
    )
    assert aliases() == {CHAMPION: "1", CHALLENGER: "2"}


def test_direct_promotion_can_be_chosen_with_a_rollout_section(config, log_model):
    config = {**config, "rollout": ROLLOUT_PLAN, "registry": {**config["registry"],
              "promotion": "direct"}}  # fmt: skip
    for score in (0.80, 0.90):
        run_id, uri = log_model()
        run_register(config, run_id, uri, "roc_auc", score)
        run_promote(config, run_id)
    assert aliases() == {CHAMPION: "2", CHALLENGER: "2"}
