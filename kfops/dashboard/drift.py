"""Drift over time: every drift report of the project, per feature, distance against threshold.

Reports are ``drift.json`` files (:mod:`kfops.drift.report`): ``kfops drift`` writes one
to ``drift.report_dir`` (default ``<runtime.root>/drift``), each retraining run one under its
pipeline root. A report is placed in time by the end of the window it measured.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kfops.config import KfopsConfig
from kfops.drift.report import REPORT_JSON
from kfops.steps.drift import default_out_dir

REPORTS_SHOWN = 50


def report_files(cfg: KfopsConfig) -> list[Path]:
    """Every drift.json under the report folder and the local pipeline root."""
    roots = [default_out_dir(cfg), cfg.state_dir / "pipeline_root"]
    found = {path.resolve() for root in roots if root.is_dir() for path in root.rglob(REPORT_JSON)}
    return sorted(found)


def _read(path: Path) -> dict[str, Any] | None:
    try:
        report = json.loads(path.read_text())
        end = str(report["window"]["end"])
        features = list(report["features"])
    except (OSError, ValueError, KeyError, TypeError):
        return None  # a half-written or foreign file: not a report
    return {
        "path": str(path),
        "time": end,
        "version": str(report.get("version", "")),
        "drifted": bool(report.get("drifted")),
        "features": features,
    }


def drift_history(cfg: KfopsConfig) -> dict[str, Any]:
    """``{"reports": [...], "features": {"age (skew)": [{time, comparison, distance,
    threshold, drifted}, ...]}}``: one series per feature and comparison (skew against
    training, drift against the previous window), oldest first; a message when none ran."""
    reports = [r for r in (_read(p) for p in report_files(cfg)) if r is not None]
    reports = sorted(reports, key=lambda r: r["time"])[-REPORTS_SHOWN:]
    features: dict[str, list[dict[str, Any]]] = {}
    for report in reports:
        for feature in report["features"]:
            key = f"{feature['name']} ({feature.get('comparison') or 'distance'})"
            features.setdefault(key, []).append(
                {
                    "time": report["time"],
                    "comparison": feature.get("comparison", ""),
                    "distance": feature.get("distance"),
                    "threshold": feature.get("threshold"),
                    "drifted": bool(feature.get("drifted")),
                }
            )
    message = "" if reports else "no drift report yet: `kfops drift` writes one"
    listed = [{k: r[k] for k in ("path", "time", "version", "drifted")} for r in reports]
    return {"reports": listed, "features": dict(sorted(features.items())), "message": message}
