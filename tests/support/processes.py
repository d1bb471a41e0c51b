"""Stopping the server processes tests start (model servers, Prometheus) the same way."""

from __future__ import annotations

import signal
import subprocess


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
