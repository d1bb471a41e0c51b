"""`rollout get`'s tree shows which gate decision the rollout started from."""

from __future__ import annotations

from rich.console import Console

from kfops.config.rollout import RolloutPlan
from kfops.rollout.engine.status import RolloutStatus
from kfops.rollout.view import rollout_tree

SPEC = RolloutPlan.model_validate({"strategy": {"canary": {"steps": [{"setWeight": 50}]}}}).resolve(
    "churn", "1", "2"
)


def shown(status: RolloutStatus) -> str:
    console = Console(width=200, record=True)
    console.print(rollout_tree("churn", SPEC, status))
    return console.export_text()


def test_the_tree_names_the_gate_decision_and_a_forced_start():
    assert "gate decision on the candidate: promote\n" in shown(
        RolloutStatus.initial(SPEC, gate_decision="promote")
    )
    forced = shown(RolloutStatus.initial(SPEC, gate_decision="keep", gate_forced=True))
    assert "gate decision on the candidate: keep (started with --force)" in forced


def test_a_status_from_before_the_field_shows_no_gate_line_and_round_trips():
    old = RolloutStatus.model_validate({"phase": "Progressing", "specFingerprint": "x"})
    assert old.gate_decision is None and "gate decision" not in shown(old)
    wire = RolloutStatus.initial(SPEC, gate_decision="keep", gate_forced=True).to_json_dict()
    assert (wire["gateDecision"], wire["gateForced"]) == ("keep", True)
    assert RolloutStatus.model_validate(wire).gate_decision == "keep"


def test_a_retry_keeps_the_gate_decision_and_a_new_candidate_drops_it():
    from kfops.rollout.engine.tick import fresh

    status = RolloutStatus.initial(SPEC, gate_decision="keep", gate_forced=True)
    assert (fresh(SPEC, status).gate_decision, fresh(SPEC, status).gate_forced) == ("keep", True)
    other = SPEC.model_copy(
        update={"candidate": SPEC.candidate.model_copy(update={"version": "3"})}
    )
    assert (fresh(other, status).gate_decision, fresh(other, status).gate_forced) == (None, False)
