"""The retraining trigger: one run per cool-down, whatever the alert storm."""

from __future__ import annotations

import threading

import pytest

from kfops.errors import ClusterError
from kfops.retraining.alerts import AlertGroup
from kfops.retraining.trigger import RetrainingTrigger


def group(
    *features: str, status: str = "firing", alertname: str = "KfopsFeatureDrift"
) -> AlertGroup:
    return AlertGroup.model_validate(
        {
            "version": "4",
            "status": status,
            "groupKey": f"{{}}:{{feature=~{'|'.join(features)}}}",
            "alerts": [
                {"status": status, "labels": {"alertname": alertname, "feature": f}}
                for f in features
            ],
        }
    )


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_storm_starts_one_run_and_the_cool_down_lets_the_next_through() -> None:
    launched: list[tuple[str, ...]] = []
    clock = Clock()

    def launch(g: AlertGroup, alerts: tuple[str, ...]) -> str:
        launched.append(alerts)
        return f"run-{len(launched)}"

    trigger = RetrainingTrigger(launch, cooldown_s=600, clock=clock)
    first = trigger.handle(group("tenure", "plan"))
    assert first.start and first.run_id == "run-1"
    assert first.alerts == (
        "KfopsFeatureDrift{feature=tenure}",
        "KfopsFeatureDrift{feature=plan}",
    )
    clock.now += 30
    later = [trigger.handle(group(f)) for f in ("monthly_charges", "tenure", "region")]
    assert [d.start for d in later] == [False, False, False]
    assert later[0].reason == "cool-down: run run-1 started 30 s ago (next possible in 570 s)"
    clock.now += 600
    assert trigger.handle(group("region")).run_id == "run-2"
    assert len(launched) == 2


def test_concurrent_notifications_start_one_run() -> None:
    started = threading.Event()
    launched: list[str] = []

    def slow_launch(g: AlertGroup, alerts: tuple[str, ...]) -> str:
        started.set()
        launched.append("x")
        threading.Event().wait(0.2)  # a KFP call in flight while the others arrive
        return "run-1"

    trigger = RetrainingTrigger(slow_launch, cooldown_s=600)
    decisions = []
    threads = [
        threading.Thread(target=lambda f=f: decisions.append(trigger.handle(group(f))))
        for f in ("a", "b", "c", "d")
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert launched == ["x"]
    assert sorted(d.start for d in decisions) == [False, False, False, True]


@pytest.mark.parametrize(
    ("notification", "reason"),
    [
        (group("tenure", status="resolved"), "no firing alert among KfopsFeatureDrift"),
        (group("tenure", alertname="KfopsModelServerDown"), "no firing alert among"),
    ],
    ids=["resolved", "another-alert"],
)
def test_what_is_not_a_firing_retraining_alert_starts_nothing(notification, reason) -> None:
    trigger = RetrainingTrigger(lambda g, a: pytest.fail("launched"), cooldown_s=1)
    decision = trigger.handle(notification)
    assert not decision.start and decision.reason.startswith(reason)


def test_a_failed_launch_does_not_start_the_cool_down() -> None:
    calls: list[int] = []

    def flaky(g: AlertGroup, alerts: tuple[str, ...]) -> str:
        calls.append(1)
        if len(calls) == 1:
            raise ClusterError("KFP at http://kfp: connection refused")
        return "run-2"

    trigger = RetrainingTrigger(flaky, cooldown_s=3600)
    with pytest.raises(ClusterError):
        trigger.handle(group("tenure"))
    assert trigger.handle(group("tenure")).run_id == "run-2"
