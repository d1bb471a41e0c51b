"""The interruption guard on a small real process tree, shaped like kfp.local's.

A driver process (in its own session, so its signals and its tree are the test's alone)
starts a step from a worker thread, as kfp.local does; the step starts a child of its
own. The test signals the driver and reads what the guard made of it.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from tests.support.processes import live_in_session

DRIVER = textwrap.dedent(
    """
    import json, subprocess, sys, threading
    from kfops.runners.interrupts import RunInterrupted, interruptible

    GRANDCHILD = "import time; time.sleep(120)"
    STEP = (
        f"import signal, subprocess, sys, time; {sys.argv[1]}; "
        f"subprocess.Popen([sys.executable, '-c', {GRANDCHILD!r}]); time.sleep(120)"
    )
    codes = []

    def worker():
        step = subprocess.Popen([sys.executable, "-c", STEP])
        codes.append(step.wait())

    stopping = threading.Event()
    try:
        with interruptible(lambda: ("train",), stopping):
            thread = threading.Thread(target=worker)
            thread.start()
            print("ready", flush=True)
            thread.join()
    except RunInterrupted as stop:
        print(json.dumps({"exit_code": stop.exit_code, "steps": stop.steps,
                          "step_status": codes, "stopping": stopping.is_set(),
                          "message": stop.message}), flush=True)
    """
)


@pytest.mark.parametrize(
    ("signum", "code", "step_prelude", "step_dies_of"),
    [
        (signal.SIGINT, 130, "pass", signal.SIGINT),
        (signal.SIGTERM, 143, "pass", signal.SIGINT),
        # A step deaf to Ctrl-C is terminated after the grace period.
        (signal.SIGINT, 130, "signal.signal(signal.SIGINT, signal.SIG_IGN)", signal.SIGTERM),
    ],
    ids=["SIGINT", "SIGTERM", "step-ignores-SIGINT"],
)
def test_signal_stops_the_step_tree_and_the_step_reads_as_failed(
    signum: int, code: int, step_prelude: str, step_dies_of: int
):
    driver = subprocess.Popen(
        [sys.executable, "-c", DRIVER, step_prelude],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert driver.stdout is not None
        assert driver.stdout.readline().strip() == "ready"
        deadline = time.monotonic() + 30
        while len(live_in_session(driver.pid)) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)  # the step and its child are starting
        assert len(live_in_session(driver.pid)) == 3, "driver, step and the step's child"
        driver.send_signal(signum)
        report = json.loads(driver.stdout.readline())
        assert driver.wait(timeout=30) == 0
    finally:
        if driver.poll() is None:
            driver.kill()
            driver.wait()
    assert report["exit_code"] == code
    assert report["steps"] == ["train"]
    assert report["stopping"] is True
    # The step died of a signal and its own waiter saw that: a step reaped elsewhere
    # would read as 0, a success kfp.local would cache.
    assert report["step_status"] == [-step_dies_of]
    assert report["message"].startswith(f"run interrupted by {signal.Signals(signum).name}")
    deadline = time.monotonic() + 10
    while live_in_session(driver.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert live_in_session(driver.pid) == [], "the step's child went too"


def test_a_signal_ignored_on_purpose_stays_ignored():
    """``nohup kfops run`` or a script's background job: SIGINT must not stop the run."""
    from kfops.runners.interrupts import interruptible

    saved = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with interruptible(lambda: (), threading.Event()):
            assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
            assert callable(signal.getsignal(signal.SIGTERM))
        assert signal.getsignal(signal.SIGTERM) is saved[signal.SIGTERM]
    finally:
        for signum, handler in saved.items():
            signal.signal(signum, handler)
