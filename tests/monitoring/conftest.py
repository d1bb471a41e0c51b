"""promtool (Debian's prometheus package) for the rule tests, and the rendered files."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

MONITORING = Path(__file__).resolve().parents[2] / "manifests" / "monitoring"
PROMTOOL_TESTS = Path(__file__).resolve().parent / "promtool"


@pytest.fixture(scope="session")
def promtool() -> str:
    found = shutil.which("promtool") or (
        "/usr/bin/promtool" if Path("/usr/bin/promtool").is_file() else None
    )
    if found is None:
        pytest.skip("promtool is not installed (apt-get install prometheus)")
    return found


def run_promtool(promtool: str, *args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool, *map(str, args)], capture_output=True, text=True, check=False, timeout=120
    )
