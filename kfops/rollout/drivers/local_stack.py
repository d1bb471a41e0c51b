"""The processes of a rollout on a laptop: two ``kfops serve``, the router, and Prometheus.

``kfops rollout start`` starts them as children that outlive no one: their pids and URLs are
kept in the rollout's state file, so ``kfops rollout run`` can resume the controller against
them and ``kfops rollout stop`` can end them. Every process binds 127.0.0.1 and logs to a
file under the rollout's folder; start-up waits on the process' own readiness URL.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx
import yaml

from kfops.errors import RolloutError

LOOPBACK = "127.0.0.1"
PROMETHEUS_ENV = "KFOPS_PROMETHEUS"
"""Path of the prometheus binary when it is neither on PATH nor /usr/bin/prometheus."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


@dataclass
class ManagedProcess:
    name: str
    pid: int
    url: str
    log: str

    def alive(self) -> bool:
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:  # pragma: no cover - another user's pid
            return True
        return True

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM (servers drain), then SIGKILL after ``timeout``."""
        if not self.alive():
            return
        os.kill(self.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                finished, _ = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:  # not our child: poll its existence
                finished = 0 if self.alive() else self.pid
            if finished:
                return
            time.sleep(0.1)
        os.kill(self.pid, signal.SIGKILL)

    def as_dict(self) -> dict[str, str | int]:
        return asdict(self)


def _tail(path: Path, lines: int = 15) -> str:
    if not path.is_file():
        return ""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def launch(
    name: str, argv: list[str], ready_url: str, url: str, log: Path, timeout: float = 180.0
) -> ManagedProcess:
    """Start ``argv`` detached from our terminal's signals and wait until ``ready_url`` is 200."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        process = subprocess.Popen(
            argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True, env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"},
        )  # fmt: skip
    managed = ManagedProcess(name, process.pid, url, str(log))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RolloutError(
                f"{name} exited with code {process.returncode} while starting; its log "
                f"{log}:\n{_tail(log)}"
            )
        try:
            if httpx.get(ready_url, timeout=2.0).status_code == 200:
                return managed
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    managed.stop(timeout=5)
    raise RolloutError(f"{name} was not ready at {ready_url} within {timeout:g} s; see {log}")


def start_model_server(
    variant: str, model_uri: str, config: Path, folder: Path, overrides: list[str] = ()
) -> ManagedProcess:
    port = free_port()
    kfops = str(Path(sys.executable).parent / "kfops")
    argv = [kfops, "serve", "--config", str(config), "--model", model_uri, "--port", str(port),
            "--set", f"serving.variant={variant}"]  # fmt: skip
    for override in overrides:
        argv += ["--set", override]
    url = f"http://{LOOPBACK}:{port}"
    return launch(
        f"{variant} model server", argv, f"{url}/v2/health/ready", url, folder / f"{variant}.log"
    )


def start_router(stable_url: str, candidate_url: str, folder: Path) -> ManagedProcess:
    port = free_port()
    argv = [sys.executable, "-m", "kfops.rollout.router.proxy", "--stable", stable_url,
            "--candidate", candidate_url, "--port", str(port),
            "--state-file", str(folder / "router-traffic.json")]  # fmt: skip
    url = f"http://{LOOPBACK}:{port}"
    return launch("router", argv, f"{url}/router/healthz", url, folder / "router.log", 60)


def prometheus_binary() -> str | None:
    found = os.environ.get(PROMETHEUS_ENV) or shutil.which("prometheus")
    if found is None and Path("/usr/bin/prometheus").is_file():
        found = "/usr/bin/prometheus"
    return found


def prometheus_config(targets: dict[str, list[str]], scrape_interval: str = "1s") -> dict:
    """prometheus.yml: one job per key, static ``host:port`` targets on ``/metrics``.

    The scrape timeout equals the interval: Prometheus refuses its 10 s default timeout
    with a 1 s interval.
    """
    return {
        "global": {
            "scrape_interval": scrape_interval,
            "scrape_timeout": scrape_interval,
            "evaluation_interval": scrape_interval,
        },
        "scrape_configs": [
            {
                "job_name": job,
                "metrics_path": "/metrics",
                "static_configs": [{"targets": list(hosts)}],
            }
            for job, hosts in targets.items()
        ],  # fmt: skip
    }


def prometheus_argv(binary: str, folder: Path, port: int) -> list[str]:
    return [
        binary,
        f"--config.file={folder / 'prometheus.yml'}",
        f"--storage.tsdb.path={folder / 'tsdb'}",
        "--storage.tsdb.retention.time=1d",
        f"--web.listen-address={LOOPBACK}:{port}",
        "--web.enable-lifecycle",
        "--log.level=warn",
    ]


def start_prometheus(
    targets: dict[str, list[str]], folder: Path, scrape_interval: str = "1s"
) -> ManagedProcess:
    binary = prometheus_binary()
    if binary is None:
        raise RolloutError(
            "no prometheus binary for the rollout's analysis: install it (apt-get install "
            f"prometheus), set {PROMETHEUS_ENV}, or pass --prometheus URL of a running one"
        )
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "prometheus.yml").write_text(
        yaml.safe_dump(prometheus_config(targets, scrape_interval))
    )
    port = free_port()
    url = f"http://{LOOPBACK}:{port}"
    return launch(
        "prometheus", prometheus_argv(binary, folder, port), f"{url}/-/ready", url,
        folder / "prometheus.log", 60,
    )  # fmt: skip


def host_port(url: str) -> str:
    return url.split("://", 1)[-1].rstrip("/")


def stop_all(processes: dict[str, dict]) -> list[str]:
    """Stop the recorded processes (router first, so no request reaches a stopping server)."""
    order = sorted(processes, key=lambda name: (name != "router", name))
    stopped = []
    for name in order:
        process = ManagedProcess(**processes[name])
        if process.alive():
            process.stop()
            stopped.append(name)
    return stopped
