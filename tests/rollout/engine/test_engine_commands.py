"""Commands as in kubectl-argo-rollouts: promote, promote --full, abort, retry, pause,
resume, set-weight, undo; and what they refuse."""

import pytest

from kfops.errors import RolloutError
from kfops.rollout import engine
from kfops.rollout.engine.actions import MoveAlias, SetTraffic
from kfops.rollout.engine.status import AnalysisPhase, PauseReason, RolloutPhase
from tests.rollout.engine.test_engine import (
    ANALYSIS,
    BOTH,
    VALUES,
    Driver,
    analysis_driver,
    make_spec,
    metric,
)

STEPS = [{"setWeight": 20}, {"pause": {}}, {"setWeight": 50}, {"pause": {"duration": "60s"}}]


def paused_driver() -> Driver:
    driver = Driver(make_spec(STEPS))
    driver.tick(0)
    return driver


def test_indefinite_pause_waits_for_promote():
    driver = paused_driver()
    driver.run(10, 1000, 100)
    assert driver.status.current_step_index == 1
    assert driver.status.phase == RolloutPhase.PAUSED
    assert driver.status.paused_for(PauseReason.PAUSED_BY_STEP)
    decision = driver.command(2000, "promote")
    assert decision.actions == [SetTraffic(candidate_weight=50)]
    assert "step 2/4 pause until promote: skipped by promote" in decision.events
    assert "step 3/4 setWeight 50" in decision.events
    driver.tick(2059)
    assert driver.status.current_step_index == 3
    decision = driver.tick(2060)
    assert decision.actions == [
        SetTraffic(candidate_weight=100),
        MoveAlias("iris", "champion", "2"),
    ]
    assert driver.status.phase == RolloutPhase.HEALTHY
    assert driver.status.previous_champion == "1"


def test_promote_skips_a_running_analysis_step():
    spec = make_spec(
        [{"setWeight": 10}, ANALYSIS, {"pause": {}}], [metric(interval="10s", count=9, **BOTH)]
    )
    driver = Driver(spec)
    driver.run(0, 20, 10)
    assert driver.status.current_step_index == 1
    driver.command(25, "promote")
    run = driver.status.run("step-1")
    assert run.phase == AnalysisPhase.SUCCESSFUL
    assert run.message == "terminated: step skipped by promote"
    assert driver.status.current_step_index == 2


def test_inconclusive_pause_then_promote_continues():
    driver = analysis_driver("I")
    assert driver.status.phase == RolloutPhase.PAUSED
    decision = driver.command(100, "promote")
    assert driver.status.paused_for(PauseReason.INCONCLUSIVE) is None
    assert decision.actions == [
        SetTraffic(candidate_weight=100),
        MoveAlias("iris", "champion", "2"),
    ]
    assert driver.status.phase == RolloutPhase.HEALTHY


def test_promote_full_skips_everything():
    spec = make_spec(
        [{"setWeight": 10}, ANALYSIS, {"pause": {}}],
        [metric(interval="10s", count=9, **BOTH)],
        background={"startingStep": 0},
    )
    driver = Driver(spec)
    driver.run(0, 20, 10)
    decision = driver.command(30, "promote", full=True)
    assert decision.actions == [
        SetTraffic(candidate_weight=100),
        MoveAlias("iris", "champion", "2"),
    ]
    assert all(run.phase.completed for run in driver.status.analysis_runs)
    assert driver.status.phase == RolloutPhase.HEALTHY
    assert driver.status.current_step_index == 3
    assert engine.due_measurements(spec, driver.status, 100) == []


def test_abort_and_retry():
    driver = paused_driver()
    decision = driver.command(10, "abort")
    assert decision.actions == [SetTraffic(candidate_weight=0)]
    assert driver.status.phase == RolloutPhase.DEGRADED
    assert driver.status.message == "aborted by user"
    decision = driver.command(20, "retry")
    assert decision.events[0] == "retry: starting the rollout over at step 1"
    assert decision.actions == [SetTraffic(candidate_weight=20)]
    assert not driver.status.abort
    assert driver.status.current_step_index == 1
    assert driver.status.phase == RolloutPhase.PAUSED


def test_retry_clears_the_analysis_runs():
    driver = analysis_driver("F")
    assert driver.status.abort
    driver.command(100, "retry")
    [run] = driver.status.analysis_runs
    assert run.started_at == 100 and run.phase == AnalysisPhase.PENDING
    assert run.metric_results[0].taken == 0


def test_pause_and_resume_hold_a_timed_pause():
    driver = Driver(
        make_spec([{"setWeight": 20}, {"pause": {"duration": "60s"}}, {"setWeight": 70}])
    )
    driver.tick(0)
    driver.command(10, "pause")
    driver.run(60, 300, 60)
    assert driver.status.current_step_index == 1
    assert driver.status.paused_for(PauseReason.USER_PAUSED)
    assert driver.status.phase == RolloutPhase.PAUSED
    decision = driver.command(400, "resume")
    assert decision.actions[0] == SetTraffic(candidate_weight=100)  # the pause had elapsed
    assert driver.status.phase == RolloutPhase.HEALTHY


def test_set_weight_holds_until_resume():
    driver = Driver(
        make_spec(
            [{"setWeight": 20}, {"pause": {"duration": "60s"}}, {"setWeight": 70}, {"pause": {}}]
        )
    )
    driver.tick(0)
    decision = driver.command(10, "set-weight", weight=35)
    assert decision.actions == [SetTraffic(candidate_weight=35)]
    assert driver.status.paused_for(PauseReason.MANUAL_WEIGHT)
    driver.run(100, 500, 100)
    assert driver.actions[-1] == SetTraffic(candidate_weight=35)  # the steps did not overwrite it
    decision = driver.command(600, "resume")
    assert decision.actions == [SetTraffic(candidate_weight=70)]  # the plan takes over again
    assert driver.status.manual_weight is None


@pytest.mark.parametrize("weight", [-1, 101, 2.5, "x", None, True])
def test_set_weight_refuses_bad_weights(weight):
    driver = paused_driver()
    with pytest.raises(
        RolloutError, match=r"^set-weight: weight .* is not a whole number in 0\.\.100$"
    ):
        driver.command(1, "set-weight", weight=weight)


def test_undo_after_healthy_moves_the_alias_back():
    driver = paused_driver()
    driver.command(5, "promote", full=True)
    decision = driver.command(10, "undo")
    assert decision.actions == [SetTraffic(candidate_weight=0), MoveAlias("iris", "champion", "1")]
    assert driver.status.phase == RolloutPhase.DEGRADED
    assert driver.status.rolled_back
    assert driver.status.message == "rolled back: version 1 is champion again"


def test_undo_during_a_rollout_aborts():
    driver = paused_driver()
    decision = driver.command(10, "undo")
    assert decision.actions == [SetTraffic(candidate_weight=0)]
    assert driver.status.abort and not driver.status.rolled_back


@pytest.mark.parametrize(
    ("setup", "command", "arguments", "message"),
    [
        ("aborted", "promote", {}, "^promote: the rollout is aborted; run `retry`"),
        ("aborted", "abort", {}, "^abort: the rollout is aborted"),
        ("aborted", "undo", {}, "^undo: the rollout is already aborted"),
        ("aborted", "pause", {}, "^pause: the rollout is aborted"),
        ("healthy", "promote", {}, "^promote: the rollout is already Healthy"),
        ("healthy", "abort", {}, "use `undo` to roll back"),
        ("healthy", "set-weight", {"weight": 5}, "^set-weight: the rollout is already Healthy"),
        ("paused", "retry", {}, "^retry: the rollout is Paused, not aborted"),
        ("paused", "resume", {}, "^resume: the rollout is not paused by a user"),
        ("paused", "bogus", {}, "^unknown rollout command 'bogus'; use one of promote"),
        ("paused", "promote", {"fast": True}, "^promote: .*unexpected keyword"),
        ("progressing", "promote", {}, "^promote: nothing is waiting at step 2/2 analysis"),
    ],
)
def test_invalid_commands(setup, command, arguments, message):
    if setup == "progressing":
        spec = make_spec([{"setWeight": 10}, ANALYSIS], [metric(interval="10s", count=9)])
        driver = Driver(spec)  # at the analysis step, not entered yet: nothing waits
        driver.status = driver.status.model_copy(update={"current_step_index": 1})
    else:
        driver = paused_driver()
        if setup == "aborted":
            driver.command(1, "abort")
        elif setup == "healthy":
            driver.command(1, "promote", full=True)
    with pytest.raises(RolloutError, match=message):
        driver.command(2, command, **arguments)


def test_pause_twice_is_harmless():
    driver = paused_driver()
    driver.command(1, "pause")
    decision = driver.command(2, "pause")
    assert decision.events == ["pause: already paused by a user"]
    assert (
        len([c for c in driver.status.pause_conditions if c.reason == PauseReason.USER_PAUSED]) == 1
    )


def test_spec_paused_stops_the_steps_but_not_the_analysis():
    spec = make_spec(
        [{"setWeight": 10}, {"pause": {"duration": "10s"}}, {"setWeight": 50}],
        [metric(interval="10s", **BOTH)],
        background={},
    )
    driver = Driver(spec)
    driver.tick(0)
    driver.spec = spec.model_copy(update={"paused": True})
    driver.run(10, 100, 10)
    assert driver.status.phase == RolloutPhase.PAUSED
    assert driver.status.message.startswith("spec.paused is true")
    assert driver.status.current_step_index == 1
    assert driver.status.run("background").metric_results[0].taken == 10
    driver.spec = spec
    driver.tick(110)
    assert driver.status.phase == RolloutPhase.HEALTHY


def test_background_failure_aborts_a_paused_rollout():
    spec = make_spec(
        [{"setWeight": 10}, {"pause": {}}], [metric(interval="10s", **BOTH)], background={}
    )
    driver = Driver(
        spec,
        lambda r, now: engine.Measurement(r.run, r.metric, value=VALUES["F" if now >= 30 else "S"]),
    )
    driver.run(0, 40, 10)
    assert driver.status.abort
    assert driver.actions[-1] == SetTraffic(candidate_weight=0)
