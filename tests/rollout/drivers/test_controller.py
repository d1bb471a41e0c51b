"""The controller joins engine and world: it persists only what was carried out, resumes
after a restart at the step it reached, and carries user commands out at once."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from kfops.config.rollout import RolloutPlan
from kfops.errors import RolloutError
from kfops.rollout.drivers.controller import local_command, local_tick, run_local
from kfops.rollout.drivers.store import LocalRolloutStore, RolloutRecord
from kfops.rollout.engine.actions import MoveAlias, SetTraffic
from kfops.rollout.engine.status import RolloutPhase, RolloutStatus
from kfops.rollout.view import rollout_tree, timeline_png
from tests.support.rollout_world import Recorder, world

STEPS = [{"setWeight": 20}, {"pause": {"duration": "10s"}}, {"setWeight": 60}, {"pause": {}}]


def make_spec(steps=STEPS):
    plan = RolloutPlan.model_validate({"strategy": {"canary": {"steps": steps}}})
    return plan.resolve("churn", "1", "2")


@pytest.fixture
def store(tmp_path: Path) -> LocalRolloutStore:
    store = LocalRolloutStore(tmp_path)
    spec = make_spec()
    store.save(RolloutRecord(name="churn", spec=spec, status=RolloutStatus.initial(spec)))
    return store


def test_steps_advance_with_time_and_traffic_is_applied(store: LocalRolloutStore) -> None:
    w = world()
    record = local_tick(store, "churn", w, now=1000.0)
    assert record.status.current_step_index == 1
    assert w.traffic.got == [SetTraffic(candidate_weight=20)]
    record = local_tick(store, "churn", w, now=1005.0)  # the 10 s pause is not over
    assert record.status.current_step_index == 1 and record.status.canary_weight == 20
    record = local_tick(store, "churn", w, now=1011.0)
    assert record.status.current_step_index == 3
    assert record.status.phase == RolloutPhase.PAUSED
    assert w.traffic.got[-1] == SetTraffic(candidate_weight=60)
    assert store.load("churn").status == record.status  # what was decided is on disk
    assert [p.candidate_weight for p in record.history][-1] == 60


def test_a_failed_action_keeps_the_state_file_unchanged(store: LocalRolloutStore) -> None:
    before = store.path("churn").read_bytes()
    with pytest.raises(RolloutError, match="did not answer"):
        local_tick(store, "churn", world(traffic=Recorder(fail=True)), now=1000.0)
    assert store.path("churn").read_bytes() == before
    # The router is back: the same step is taken, not skipped.
    w = world()
    record = local_tick(store, "churn", w, now=1001.0)
    assert record.status.current_step_index == 1
    assert w.traffic.got == [SetTraffic(candidate_weight=20)]


def test_run_local_retries_failed_actions_and_reports_them(store: LocalRolloutStore) -> None:
    flaky = Recorder(fail=True)
    errors: list[str] = []

    def on_error(exc: RolloutError) -> None:
        errors.append(exc.message)
        flaky.fail = len(errors) < 2  # the router answers from the third tick on

    record = run_local(store, "churn", world(traffic=flaky), interval=0.0, max_ticks=3,
                       on_error=on_error)  # fmt: skip
    assert len(errors) == 2
    assert record.status.canary_weight == 20
    assert flaky.got == [SetTraffic(candidate_weight=20)]


def test_a_restarted_controller_resyncs_traffic_and_resumes_at_its_step(
    store: LocalRolloutStore,
) -> None:
    first = world()
    local_tick(store, "churn", first, now=1000.0)
    local_tick(store, "churn", first, now=1011.0)  # step 3: pause until promote, weight 60
    second = world()  # a new process: the router may have lost its state
    record = run_local(store, "churn", second, interval=0.0, max_ticks=2,
                       until=lambda r: False)  # fmt: skip
    assert record.status.current_step_index == 3
    assert second.traffic.got == [SetTraffic(candidate_weight=60)]  # once, on the first tick


def test_commands_act_at_once_and_the_alias_moves_only_on_success(
    store: LocalRolloutStore,
) -> None:
    w = world()
    local_tick(store, "churn", w, now=1000.0)
    record = local_command(store, "churn", "abort", w, now=1001.0)
    assert record.status.phase == RolloutPhase.DEGRADED
    assert w.traffic.got[-1] == SetTraffic(candidate_weight=0)
    assert w.aliases.got == []
    with pytest.raises(RolloutError, match="aborted"):
        local_command(store, "churn", "promote", w, now=1002.0)
    record = local_command(store, "churn", "retry", w, now=1003.0)
    assert not record.status.abort and record.status.current_step_index == 1  # from the start
    assert w.traffic.got[-1] == SetTraffic(candidate_weight=20)
    record = local_command(store, "churn", "promote", w, now=1004.0, full=True)
    assert record.status.phase == RolloutPhase.HEALTHY
    assert w.traffic.got[-1] == SetTraffic(candidate_weight=100)
    assert w.aliases.got == [MoveAlias("churn", "champion", "2")]
    notes = [point.note for point in record.history if point.note]
    assert "command abort" in notes and "command retry" in notes


def test_concurrent_writers_never_lose_an_update(store: LocalRolloutStore) -> None:
    def bump() -> None:
        for _ in range(25):
            with store.locked("churn"):
                record = store.load("churn")
                record.status.message = str(int(record.status.message or "0") + 1)
                store.save(record)

    store.save(store.load("churn").model_copy(update={"status": RolloutStatus(message="0")}))
    threads = [threading.Thread(target=bump) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert store.load("churn").status.message == "100"
    assert not list(store.folder.glob("*.tmp"))


def test_store_errors_name_the_rollout_and_the_fix(store: LocalRolloutStore) -> None:
    with pytest.raises(RolloutError, match=r"no rollout 'other' .*known: churn.*rollout start"):
        store.load("other")
    with pytest.raises(RolloutError, match="DNS-1123"):
        store.path("Bad_Name")
    store.path("churn").write_text("{not json")
    with pytest.raises(RolloutError, match="not a rollout state file"):
        store.load("churn")


def test_the_tree_and_the_timeline_show_the_rollout(
    store: LocalRolloutStore, tmp_path: Path
) -> None:
    from rich.console import Console

    w = world()
    local_tick(store, "churn", w, now=1000.0)
    record = local_tick(store, "churn", w, now=1011.0)
    console = Console(record=True, width=120)
    console.print(rollout_tree("churn", record.spec, record.status))
    text = console.export_text()
    assert "stable v1 → candidate v2" in text and "Paused" in text
    assert "setWeight 60" in text and "pause (until promote)" in text
    picture = timeline_png("churn", record.history, record.status, tmp_path / "t.png")
    assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads(store.path("churn").read_text())["history"]
