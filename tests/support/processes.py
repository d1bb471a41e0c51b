"""Stopping the processes tests start (model servers, Prometheus), and finding what a run
left behind."""

from __future__ import annotations

import os
import signal
import subprocess

import psutil


def stop_process(process: subprocess.Popen, timeout: float) -> None:
    """SIGTERM (a server drains and exits), then SIGKILL if it is still up after ``timeout``."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout)


def live_in_session(sid: int) -> list[psutil.Process]:
    """The live (not zombie) processes of a session: everything a run started in it."""
    found = []
    for process in psutil.process_iter():
        try:
            if os.getsid(process.pid) == sid and process.status() != psutil.STATUS_ZOMBIE:
                found.append(process)
        except (OSError, psutil.Error):
            continue
    return found
