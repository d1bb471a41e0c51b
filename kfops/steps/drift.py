"""Drift step: served traffic against training (skew) and the window before (drift).

Used by ``kfops drift`` and the ``drift`` component; the retraining pipeline branches on
``DriftResult.drifted``.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kfops.config import KfopsConfig, config_from_dict
from kfops.config.drift import DriftConfig

if TYPE_CHECKING:
    from kfops.drift.check import DriftReport

DRIFT_EXIT_CODE = 20
"""``kfops drift``'s exit code when a feature drifted or, with feedback, a version's live
metric degraded: apart from every error's code (1-11)."""


@dataclass(frozen=True)
class DriftResult:
    drifted: bool
    degraded: bool
    drifted_features: tuple[str, ...]
    model: str
    version: str
    report_json: str
    report_html: str
    report: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "drifted": self.drifted,
            "degraded": self.degraded,
            "drifted_features": list(self.drifted_features),
            "model": self.model,
            "version": self.version,
            "report_json": self.report_json,
            "report_html": self.report_html,
        }


def _relative_to_config(cfg: KfopsConfig, path: str) -> Path:
    """A path of kfops.yaml is relative to the file, as ``kfops serve`` reads it."""
    if cfg.base_dir and not Path(path).is_absolute():
        return Path(cfg.base_dir) / path
    return Path(path)


def inference_log_dir(cfg: KfopsConfig) -> Path:
    """serving.inference_log.path, else <runtime.root>/inference-log: where ``serve`` writes."""
    configured = cfg.serving.inference_log.path if cfg.serving else None
    if configured:
        return _relative_to_config(cfg, configured)
    return cfg.state_dir / "inference-log"


def _excluded(cfg: KfopsConfig) -> set[str]:
    """Logged columns that are no model inputs to compare: the target, ids, event times."""
    names = {cfg.data.target, cfg.data.entity_column, cfg.data.timestamp_column}
    names |= set(cfg.data.drop_columns)
    return {n for n in names if n}


def _with_performance(
    cfg: KfopsConfig,
    settings: DriftConfig,
    report: DriftReport,
    rows: Any,
    labels: Any,
    task: str,
) -> DriftReport:
    """The report with each served version's live metric; a note when no label matched."""
    from kfops.drift.feedback import live_metrics
    from kfops.metrics import DEFAULT_PROMOTION_METRIC
    from kfops.registry.versions import version_score

    metric = cfg.registry.promotion_metric or DEFAULT_PROMOTION_METRIC.get(task, "accuracy")
    measured = live_metrics(
        rows,
        labels,
        metric,
        lambda version, name: version_score(report.model, version, name),
        settings.max_metric_drop,
    )
    notes = report.notes
    if not measured:
        notes += ("feedback: no logged request of the window has a label; no live metric",)
    return replace(report, performance=tuple(measured), notes=notes)


def run_drift(
    config: dict[str, Any],
    out_dir: str,
    model_uri: str = "",
    since: str = "",
    now: datetime | None = None,
    feedback: str = "",
) -> DriftResult:
    """Check the window ``since`` (default drift.window) of the model's logged requests.

    Writes drift.json, drift.html and TFDV's Facets page to ``out_dir``, then sets the
    gauges where drift.textfile / drift.pushgateway say. Drift is a result, not an error.
    With ``feedback`` (a labels file) the window's predictions are also scored per served
    version against the score each was registered with (concept drift).
    """
    import mlflow

    from kfops.drift.check import check_drift, read_windows
    from kfops.drift.feedback import read_feedback
    from kfops.drift.gauges import push, write_textfile
    from kfops.drift.reference import fetch_reference, parse_model_uri
    from kfops.drift.report import write_reports
    from kfops.drift.window import parse_since

    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    cfg = config_from_dict(config)
    settings = cfg.drift or DriftConfig()
    window = parse_since(since or settings.window, now or datetime.now(UTC))
    mlflow.set_tracking_uri(cfg.resolved_tracking_uri())
    mlflow.set_registry_uri(cfg.resolved_registry_uri())
    out = Path(out_dir)
    uri = model_uri or f"models:/{cfg.model_name}@champion"
    name, _, _ = parse_model_uri(uri)
    with tempfile.TemporaryDirectory(prefix="kfops-drift-") as tmp:
        windows = read_windows(inference_log_dir(cfg), name, window, Path(tmp) / "windows")
        labels = read_feedback(Path(feedback)) if feedback else None
        reference = fetch_reference(uri, Path(tmp))
        report = check_drift(settings, windows, reference, out, _excluded(cfg))
    if labels is not None:
        report = _with_performance(cfg, settings, report, windows.rows, labels, reference.task)
    data, page = write_reports(report, out)
    if settings.textfile:
        write_textfile(report, _relative_to_config(cfg, settings.textfile))
    if settings.pushgateway:
        push(report, settings.pushgateway)
    return DriftResult(
        drifted=report.drifted,
        degraded=report.degraded,
        drifted_features=tuple(report.drifted_features()),
        model=report.model,
        version=report.version,
        report_json=str(data),
        report_html=str(page),
        report=json.loads(data.read_text()),
    )


def default_out_dir(cfg: KfopsConfig) -> Path:
    """drift.report_dir, else <runtime.root>/drift."""
    settings = cfg.drift or DriftConfig()
    if settings.report_dir:
        return _relative_to_config(cfg, settings.report_dir)
    return cfg.state_dir / "drift"


@dataclass(frozen=True)
class RetrainDecision:
    """What the retraining pipeline does after its drift check, and why."""

    retrain: bool
    reason: str
    report_html: str
    check: DriftResult | None

    def to_dict(self) -> dict[str, Any]:
        checked = self.check.to_dict() if self.check else {}
        return {"retrain": self.retrain, "reason": self.reason, **checked}


def decide_retraining(
    config: dict[str, Any],
    out_dir: str,
    model_uri: str = "",
    since: str = "",
    feedback: str = "",
    force: bool = False,
) -> RetrainDecision:
    """Retrain when the window drifted, the live metric degraded, or when forced.

    Forced, the check still runs for the record; when it cannot (no log yet, an empty
    window) its one-line reason is recorded instead of failing the run. Unforced, such an
    error fails the step: nothing is retrained on a check that did not happen.
    """
    from html import escape

    from kfops.errors import KfopsError, one_line

    try:
        result = run_drift(config, out_dir, model_uri=model_uri, since=since, feedback=feedback)
    except KfopsError as exc:
        if not force:
            raise
        page = Path(out_dir) / "drift.html"
        page.parent.mkdir(parents=True, exist_ok=True)
        reason = f"forced; the drift check could not run: {one_line(exc)}"
        page.write_text(
            f"<html><body><h1>Retraining forced</h1><p>{escape(reason)}</p></body></html>"
        )
        return RetrainDecision(True, reason, str(page), None)
    causes = []
    if result.drifted:
        causes.append(f"drifted: {', '.join(result.drifted_features)}")
    if result.degraded:
        causes.append("the live metric degraded")
    if causes:
        reason = "; ".join(causes)
    elif force:
        reason = "forced; no feature drifted"
    else:
        reason = f"no drift in the window of {result.model} v{result.version}: nothing to retrain"
    return RetrainDecision(bool(causes) or force, reason, result.report_html, result)
