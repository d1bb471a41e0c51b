"""A real Prometheus server on 127.0.0.1 for tests: scrapes the given targets every second.

``running_prometheus({"job": ["127.0.0.1:PORT"]}, tmp_path)`` writes a prometheus.yml,
starts ``prometheus`` (the Debian package, 2.42 here) on a free loopback port with its
TSDB under ``tmp_path``, waits for ``/-/ready`` and stops it (SIGTERM, then SIGKILL) on
exit. Tests skip, saying why, when the binary is missing (``scripts/setup.sh`` installs it).

The ``prometheus`` fixture starts any number of servers and stops them at teardown; import
it into a conftest (``from tests.support.prometheus import prometheus  # noqa: F401``).
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import yaml

from kfops.rollout.drivers.local_stack import (
    PROMETHEUS_ENV,
    free_port,
    prometheus_argv,
    prometheus_binary,
    prometheus_config,
)
from tests.support.processes import stop_process

Targets = dict[str, list[str]]
"""Job name -> ``host:port`` targets serving ``/metrics``."""

scrape_config = prometheus_config


@dataclass
class PrometheusHandle:
    url: str
    process: subprocess.Popen[bytes]
    config_path: Path
    log_path: Path
    scrape_interval: str
    startup_seconds: float = 0.0
    _stopped: bool = field(default=False, repr=False)

    def set_targets(self, targets: Targets, timeout: float = 10.0) -> None:
        """Replace the scrape config and reload it (``/-/reload``, lifecycle API enabled)."""
        self.config_path.write_text(yaml.safe_dump(scrape_config(targets, self.scrape_interval)))
        response = httpx.post(self.url + "/-/reload", timeout=timeout)
        if response.status_code != 200:
            raise RuntimeError(f"prometheus reload failed: {response.text.strip()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, timeout: float = 10.0) -> None:
        if self._stopped:
            return
        self._stopped = True
        stop_process(self.process, timeout)


def _wait_ready(handle: PrometheusHandle, timeout: float) -> bool:
    """True once ``/-/ready`` answers 200; False when the process exits first or time is up."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if handle.process.poll() is not None:
            return False
        try:
            if httpx.get(handle.url + "/-/ready", timeout=1.0).status_code == 200:
                return True
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    return False


def start_prometheus(
    targets: Targets,
    tmp_path: Path,
    scrape_interval: str = "1s",
    timeout: float = 30.0,
    extra_args: tuple[str, ...] = (),
) -> PrometheusHandle:
    """Start Prometheus scraping ``targets``; the caller stops it (or use the context manager)."""
    binary = prometheus_binary()
    if binary is None:
        pytest.skip(f"no prometheus binary (apt-get install prometheus, or set {PROMETHEUS_ENV})")
    tmp_path.mkdir(parents=True, exist_ok=True)
    config_path = tmp_path / "prometheus.yml"
    config_path.write_text(yaml.safe_dump(scrape_config(targets, scrape_interval)))
    log_path = tmp_path / "prometheus.log"
    for _attempt in range(3):  # another process may take the free port before Prometheus does
        port = free_port()
        command = [*prometheus_argv(binary, tmp_path, port), *extra_args]
        started = time.monotonic()
        with log_path.open("ab") as log:
            process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        handle = PrometheusHandle(
            f"http://127.0.0.1:{port}", process, config_path, log_path, scrape_interval
        )
        if _wait_ready(handle, timeout):
            handle.startup_seconds = time.monotonic() - started
            return handle
        handle.stop()
        if "address already in use" not in handle.log():
            break
    raise RuntimeError(
        f"prometheus did not become ready within {timeout:g} s; its log:\n{handle.log()[-2000:]}"
    )


@contextmanager
def running_prometheus(
    targets: Targets,
    tmp_path: Path,
    scrape_interval: str = "1s",
    timeout: float = 30.0,
    extra_args: tuple[str, ...] = (),
) -> Iterator[PrometheusHandle]:
    """``with running_prometheus({"model": ["127.0.0.1:8080"]}, tmp_path) as prom: prom.url``."""
    handle = start_prometheus(targets, tmp_path, scrape_interval, timeout, extra_args)
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture
def prometheus(tmp_path: Path) -> Iterator[Callable[..., PrometheusHandle]]:
    """``prometheus(targets, scrape_interval="1s")`` -> a started handle; all stop at teardown."""
    started: list[PrometheusHandle] = []

    def start(targets: Targets, scrape_interval: str = "1s", **options) -> PrometheusHandle:
        folder = tmp_path / f"prometheus-{len(started)}"
        handle = start_prometheus(targets, folder, scrape_interval, **options)
        started.append(handle)
        return handle

    yield start
    for handle in started:
        handle.stop()
