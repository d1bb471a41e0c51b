"""Stop a local run cleanly on SIGINT or SIGTERM: its step processes go with it.

kfp.local starts each step with ``subprocess.Popen`` from a worker thread, in kfops' own
process group and without a handle we could reach. Left alone, a signal to ``kfops run``
ends the CLI while the step (and the TFDV runtime it started) keeps running and writing
to the tracking store. Here the run's own descendants are found with psutil, frozen so
none can start another, then interrupted (terminated, then killed, if they linger), all
from the signal handler, before the interruption unwinds the orchestrator. A stopped
step ends with a failure status, so kfp.local never writes its cache entry and a re-run
resumes after the last finished step.

Processes are never reaped here: kfp.local waits for its step processes itself, and a
step reaped by someone else would look to it like a success (exit status 0).
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Callable, Iterator
from types import FrameType

import psutil

SIGNALS = (signal.SIGINT, signal.SIGTERM)
# Each signal, then how long the processes get to end before the next one.
ESCALATION = ((signal.SIGINT, 3.0), (signal.SIGTERM, 2.0), (signal.SIGKILL, 2.0))
SWEEP_EVERY_S = 0.2
JOIN_S = 10.0


class RunInterrupted(BaseException):  # noqa: N818 - named like KeyboardInterrupt, its kin
    """The run was stopped by a signal; its running steps were stopped with it.

    A BaseException, like KeyboardInterrupt, so that no ``except Exception`` on the way
    out (kfp.local's, the step error handling) mistakes it for a failed step.
    """

    def __init__(self, signum: int, steps: tuple[str, ...]) -> None:
        self.signum = signum
        self.steps = steps
        super().__init__(self.message)

    @property
    def signal_name(self) -> str:
        return signal.Signals(self.signum).name

    @property
    def exit_code(self) -> int:
        """The shell's convention for a process ended by a signal: 128 + its number."""
        return 128 + self.signum

    @property
    def message(self) -> str:
        if not self.steps:
            return (
                f"run interrupted by {self.signal_name} between steps; "
                "run again to resume from the cache"
            )
        names = ", ".join(self.steps)
        return (
            f"run interrupted by {self.signal_name} during {names}; the step was stopped "
            "and nothing it did is cached; run again to resume from the cache"
        )


def _descendants(root: psutil.Process) -> list[psutil.Process]:
    with contextlib.suppress(psutil.Error):
        return root.children(recursive=True)
    return []


def _running(process: psutil.Process) -> bool:
    """Alive and not a zombie (a zombie is dead, only not yet collected by its parent)."""
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _signal_all(processes: list[psutil.Process], action: Callable[[psutil.Process], None]) -> None:
    for process in processes:
        with contextlib.suppress(psutil.Error):
            action(process)


def _wait_gone(processes: list[psutil.Process], timeout: float) -> list[psutil.Process]:
    """Poll (never wait(): that would reap kfp.local's children) until all are gone."""
    deadline = time.monotonic() + timeout
    alive = [p for p in processes if _running(p)]
    while alive and time.monotonic() < deadline:
        time.sleep(0.05)
        alive = [p for p in alive if _running(p)]
    return alive


def stop_descendants() -> int:
    """Stop every process below this one; return how many there were.

    They are first frozen (SIGSTOP) level by level until the tree stops growing, so a
    step cannot start a child between the listing and the signal. Then each gets SIGINT,
    as Ctrl-C in a terminal would: a Python step unwinds, so its MLflow run ends as
    FAILED and its temporary files go. Whatever still runs after a grace period gets
    SIGTERM, then SIGKILL.
    """
    root = psutil.Process()
    frozen: dict[int, psutil.Process] = {}
    for _ in range(20):  # each round freezes one more generation at most
        fresh = [p for p in _descendants(root) if p.pid not in frozen]
        if not fresh:
            break
        _signal_all(fresh, psutil.Process.suspend)
        frozen.update((p.pid, p) for p in fresh)
    alive = list(frozen.values())
    for signum, grace in ESCALATION:
        _signal_all(alive, lambda process, signum=signum: process.send_signal(signum))
        _signal_all(alive, psutil.Process.resume)  # held until then, but for SIGKILL
        alive = _wait_gone(alive, grace)
        if not alive:
            break
    return len(frozen)


def _join_new_threads(before: set[threading.Thread], timeout: float) -> None:
    """Let the orchestrator's worker threads see their killed steps end before we return."""
    deadline = time.monotonic() + timeout
    for thread in set(threading.enumerate()) - before:
        if not thread.daemon:
            thread.join(max(0.0, deadline - time.monotonic()))


class _Sweeper(threading.Thread):
    """After an interruption, stops any step the orchestrator still starts while it unwinds."""

    def __init__(self, stop: Callable[[], object]) -> None:
        super().__init__(name="kfops-interrupt-sweeper", daemon=True)
        self.done = threading.Event()
        self.stop = stop

    def run(self) -> None:
        while not self.done.wait(SWEEP_EVERY_S):
            self.stop()


@contextlib.contextmanager
def interruptible(
    running_steps: Callable[[], tuple[str, ...]],
    interrupted: threading.Event,
    stop: Callable[[], object] = stop_descendants,
) -> Iterator[None]:
    """Within the block, SIGINT and SIGTERM stop the steps and raise RunInterrupted.

    ``interrupted`` is set as soon as a signal came, before the steps are stopped.
    ``running_steps`` names the steps running then, for the message; ``stop`` stops them
    (processes below this one by default; the docker runner adds its containers). Only
    the main thread can own signal handlers; elsewhere the block runs unguarded.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    sweeper = _Sweeper(stop)
    threads_before = set(threading.enumerate())

    def on_signal(signum: int, frame: FrameType | None) -> None:
        del frame
        if interrupted.is_set():  # a second Ctrl-C while stopping: already being handled
            return
        interrupted.set()
        steps = running_steps()
        stop()
        sweeper.start()
        raise RunInterrupted(signum, steps)

    # A signal ignored on purpose (``nohup``, a background job of a script) stays ignored.
    previous = {
        signum: signal.signal(signum, on_signal)
        for signum in SIGNALS
        if signal.getsignal(signum) is not signal.SIG_IGN
    }
    try:
        yield
    finally:
        if interrupted.is_set():
            _join_new_threads(threads_before, JOIN_S)
            sweeper.done.set()
            sweeper.join()
            stop()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
