"""Runs checkov from its own environment (runtimes/checkov: its pins conflict with the main
one) and reads its JSON report, for the Terraform and manifest scans."""

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def checkov_binary() -> Path:
    """The scanner, or a skip naming how to install it."""
    path = Path(os.environ.get("KFOPS_CHECKOV", REPO / "runtimes/checkov/.venv/bin/checkov"))
    if not path.exists():
        pytest.skip(f"checkov is not installed at {path}: run scripts/setup.sh")
    return path


@dataclass(frozen=True)
class Scan:
    passed: int
    failed: list[str]  # "CKV_X resource (file)" per failed check
    skipped: list[tuple[str, str]]  # (check id, the reason written beside the skip)
    parsing_errors: int


def run_checkov(*args: str, cwd: Path = REPO) -> Scan:
    """checkov with its JSON report; offline (no download of Prisma Cloud's guidelines)."""
    proc = subprocess.run(
        [str(checkov_binary()), *args, "--output", "json", "--skip-download"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false"},
    )
    if proc.returncode not in (0, 1):
        raise AssertionError(
            f"checkov {' '.join(args)} exited {proc.returncode}: {proc.stderr[-2000:]}"
        )
    report = json.loads(proc.stdout)
    reports = report if isinstance(report, list) else [report]
    passed, failed, skipped, parsing_errors = 0, [], [], 0
    for one in reports:
        parsing_errors += one.get("summary", {}).get("parsing_errors", 0)
        results = one.get("results", {})
        passed += len(results.get("passed_checks", []))
        failed += [
            f"{c['check_id']} {c['resource']} ({c['file_path']}:{c['file_line_range'][0]})"
            for c in results.get("failed_checks", [])
        ]
        skipped += [
            (c["check_id"], (c.get("check_result", {}).get("suppress_comment") or "").strip())
            for c in results.get("skipped_checks", [])
        ]
    return Scan(passed=passed, failed=failed, skipped=skipped, parsing_errors=parsing_errors)


def assert_clean(scan: Scan) -> None:
    """Zero failed checks, and every skip says why."""
    assert scan.passed > 0, "checkov ran no check at all"
    assert scan.parsing_errors == 0, "checkov could not parse some files"
    assert scan.failed == [], "checkov failed checks:\n" + "\n".join(scan.failed)
    unexplained = [
        cid for cid, reason in scan.skipped if not reason or reason == "No comment provided"
    ]
    assert unexplained == [], f"skips without a reason: {unexplained}"
