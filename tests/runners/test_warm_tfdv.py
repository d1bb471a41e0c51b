"""The run's early TFDV runtime: started at the first step when validate is still to come,
once, never after validate; its socket in ``$KFOPS_TFDV_SERVER`` for the run only; stopped
and cleaned up when the run ends."""

from __future__ import annotations

import os

import pytest

from kfops.runners.warm_tfdv import EARLY_ENV, EarlyTFDV
from kfops.validation import runtime

pytestmark = pytest.mark.skipif(
    runtime.tfdv_importable() or not runtime.tfdv_python().is_file(),
    reason="no separate TFDV runtime: run `make setup` or set KFOPS_TFDV_PYTHON",
)


@pytest.fixture(autouse=True)
def no_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(runtime.SERVER_ENV, "")
    monkeypatch.delenv(runtime.SERVER_ENV)
    monkeypatch.delenv(EARLY_ENV, raising=False)


def test_started_once_at_the_first_step_and_stopped_with_the_run() -> None:
    with EarlyTFDV(enabled=True) as early:
        path = os.environ[runtime.SERVER_ENV]
        assert early.server is None  # nothing before a step starts
        early.start_before("ingest", seen=set())
        server = early.server
        assert server is not None and server.path == path
        assert server._process.poll() is None
        early.start_before("features", seen={"ingest"})
        assert early.server is server
    assert server._process.poll() is not None
    assert runtime.SERVER_ENV not in os.environ
    assert not os.path.exists(path) and early.folder is not None and not early.folder.exists()


def test_not_started_once_validate_has_come() -> None:
    with EarlyTFDV(enabled=True) as early:
        early.start_before("train", seen={"ingest", "features", "validate"})
        assert early.server is None


@pytest.mark.parametrize("switch", ["argument", "environment"])
def test_off(switch: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if switch == "environment":
        monkeypatch.setenv(EARLY_ENV, "0")
    with EarlyTFDV(enabled=switch != "argument") as early:
        assert runtime.SERVER_ENV not in os.environ
        early.start_before("ingest", seen=set())
        assert early.server is None
