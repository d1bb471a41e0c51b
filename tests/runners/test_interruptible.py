"""The interruption guard on a small real process tree, shaped like kfp.local's.

A driver process (in its own session, so its signals and its tree are the test's alone)
starts a step from a worker thread, as kfp.local does; the step starts a child of its
own. The test signals the driver and reads what the guard made of it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import psutil
import pytest

DRIVER = textwrap.dedent(
    """
    import json, subprocess, sys, threading
    from kfops.runners.interrupts import RunInterrupted, interruptible

    GRANDCHILD = "import time; time.sleep(120)"
    STEP = (
        "import subprocess, sys, time; "
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


def live_in_session(sid: int) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter():
        try:
            if os.getsid(process.pid) == sid and process.status() != psutil.STATUS_ZOMBIE:
                found.append(process)
        except (OSError, psutil.Error):
            continue
    return found


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_stops_the_step_tree_and_the_step_reads_as_failed(signum: int, code: int):
    driver = subprocess.Popen(
        [sys.executable, "-c", DRIVER],
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
    # The step died of SIGTERM and its own waiter saw that: a reaped-elsewhere step
    # would read as 0, a success kfp.local would cache.
    assert report["step_status"] == [-signal.SIGTERM]
    assert report["message"].startswith(f"run interrupted by {signal.Signals(signum).name}")
    deadline = time.monotonic() + 10
    while live_in_session(driver.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert live_in_session(driver.pid) == [], "the step's child went too"
