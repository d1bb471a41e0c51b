"""Dashboard fixtures: a project config on a temporary runtime root, and a local rollout
stepped by the real engine (recorded traffic and aliases, tests.support.rollout_world)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from kfops.config import KfopsConfig
from kfops.config.rollout import RolloutPlan
from kfops.rollout.drivers.controller import local_tick
from kfops.rollout.drivers.store import LocalRolloutStore, RolloutRecord
from kfops.rollout.engine.status import RolloutStatus
from tests.support.processes import wait_until
from tests.support.rollout_world import world

STEPS = [{"setWeight": 20}, {"pause": {}}, {"setWeight": 60}]


@pytest.fixture
def cfg(tmp_path: Path) -> KfopsConfig:
    return KfopsConfig(
        project="churn",
        data={"path": str(tmp_path / "churn.csv"), "target": "churned"},
        runtime={"root": str(tmp_path / "state")},
        registry={"model_name": "churn-classifier"},
    )


@pytest.fixture
def store(cfg: KfopsConfig) -> LocalRolloutStore:
    """Rollout ``churn`` (v1 -> v2) paused at its pause step with 20 % on the candidate."""
    store = LocalRolloutStore(cfg.state_dir)
    spec = RolloutPlan.model_validate({"strategy": {"canary": {"steps": STEPS}}}).resolve(
        "churn-classifier", "1", "2"
    )
    store.save(RolloutRecord(name="churn", spec=spec, status=RolloutStatus.initial(spec)))
    local_tick(store, "churn", world(), now=1000.0)
    return store


@contextmanager
def served(app: Any) -> Iterator[httpx.Client]:
    """``app`` on uvicorn on a free 127.0.0.1 port, and a client on it; stopped at the end."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        wait_until(lambda: server.started, 15, "the dashboard server")
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            yield http
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.fixture
def serve() -> Iterator[Callable[[Any], httpx.Client]]:
    """Start dashboards for a test: ``serve(app)`` returns a client on a running server."""
    with ExitStack() as stack:
        yield lambda app: stack.enter_context(served(app))
