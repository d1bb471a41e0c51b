"""The end-of-run summary: metrics, model version, aliases, run id, where things are."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kfops.cli.common import console, print_table
from kfops.config import KfopsConfig
from kfops.registry.champion import GateDecision
from kfops.runners.local import LocalRun
from kfops.runners.read_back import RunRecord, VersionRecord, read_latest, read_run


def _latest(root: Path, pattern: str) -> Path | None:
    found = sorted(root.glob(pattern), key=lambda p: p.stat().st_mtime)
    return found[-1] if found else None


def _read_through_mlflow(cfg: KfopsConfig, run_id: str) -> RunRecord:
    from mlflow import MlflowClient

    from kfops.registry.tracking import use_tracking
    from kfops.registry.versions import aliases, decision_of, version_of_run

    use_tracking(
        cfg.resolved_tracking_uri(),
        cfg.experiment_name,
        cfg.resolved_artifact_location(),
        cfg.resolved_registry_uri(),
    )
    version = version_of_run(cfg.model_name, run_id)
    mlrun = MlflowClient().get_run(run_id)
    return RunRecord(
        metrics=dict(mlrun.data.metrics),
        artifact_uri=mlrun.info.artifact_uri,
        version=version,
        decision=decision_of(cfg.model_name, version),
        aliases=aliases(cfg.model_name),
    )


def gather(cfg: KfopsConfig, run: LocalRun) -> dict[str, Any]:
    """Read back what the run produced from its outputs and the MLflow store (the local
    sqlite store directly, without importing MLflow, when it is the default)."""
    run_id = str(run.outputs.get("run_id", ""))
    record = read_run(cfg, run_id) or _read_through_mlflow(cfg, run_id)
    return {
        "model": cfg.model_name,
        "version": record.version,
        "decision": record.decision,
        "aliases": record.aliases,
        "run_id": run_id,
        "metrics": record.metrics,
        "tracking_uri": cfg.resolved_tracking_uri(),
        "artifact_uri": record.artifact_uri,
        "statistics_html": str(_latest(run.pipeline_root, "**/validate/statistics") or ""),
        "log": str(run.log_path),
        "seconds": round(run.seconds, 1),
        "cached_steps": run.cached_steps,
    }


def render(summary: dict[str, Any]) -> None:
    decision = summary["decision"]
    metric = decision.get("metric", "")
    rows = [
        [f"{name}{' *' if name == metric else ''}", f"{value:.4f}"]
        for name, value in sorted(summary["metrics"].items())
    ]
    print_table("metrics (test split)", ["metric", "value"], rows, right={"value"})
    passed = decision.get("decision") == GateDecision.PROMOTE
    if passed and summary["aliases"].get("champion") == summary["version"]:
        verdict = "[green]promoted to champion[/]"
    elif passed:
        verdict = "[green]passed the gate: challenger, its rollout decides[/]"
    else:
        verdict = "[yellow]rejected by the gate: no alias, not a rollout candidate[/]"
    console.print(
        f"model [bold]{summary['model']}[/] version [bold]{summary['version']}[/]: {verdict}"
    )
    console.print(f"  gate: {decision.get('reason', '')}")
    alias_text = ", ".join(f"{a} -> v{v}" for a, v in sorted(summary["aliases"].items()))
    console.print(f"  aliases: {alias_text or 'none'}")
    console.print(f"  MLflow run: {summary['run_id']}  ({summary['tracking_uri']})", soft_wrap=True)
    console.print(f"  artifacts: {summary['artifact_uri']}", soft_wrap=True)
    if summary["statistics_html"]:
        console.print(f"  TFDV statistics: {summary['statistics_html']}", soft_wrap=True)
    console.print(f"  pipeline log: {summary['log']}", soft_wrap=True)
    cached = summary["cached_steps"]
    tail = f", cached: {', '.join(cached)}" if cached else ""
    console.print(f"  took {summary['seconds']} s{tail}")


def _latest_through_mlflow(cfg: KfopsConfig) -> VersionRecord:
    from mlflow import MlflowClient

    from kfops.registry.tracking import use_tracking
    from kfops.registry.versions import aliases, decision_of

    use_tracking(
        cfg.resolved_tracking_uri(),
        cfg.experiment_name,
        cfg.resolved_artifact_location(),
        cfg.resolved_registry_uri(),
    )
    found = MlflowClient().search_model_versions(f"name = '{cfg.model_name}'")
    version = str(max(int(v.version) for v in found))
    return VersionRecord(
        version=version,
        decision=decision_of(cfg.model_name, version),
        aliases=aliases(cfg.model_name),
    )


def gather_retraining(cfg: KfopsConfig, run: LocalRun) -> dict[str, Any]:
    """Whether the window drifted and, when it did, the version the run registered."""
    import json

    retrained = bool(run.outputs.get("Output"))
    report = _latest(run.pipeline_root, "**/drift/details/drift.json")
    drifted = json.loads(report.read_text()).get("features", []) if report else []
    summary: dict[str, Any] = {
        "pipeline": "retraining",
        "retrained": retrained,
        "drifted_features": [f["name"] for f in drifted if f.get("drifted")],
        "drift_report": str(_latest(run.pipeline_root, "**/drift/report") or ""),
        "log": str(run.log_path),
        "seconds": round(run.seconds, 1),
    }
    if retrained:
        record = read_latest(cfg) or _latest_through_mlflow(cfg)
        summary.update(
            model=cfg.model_name,
            version=record.version,
            decision=record.decision,
            aliases=record.aliases,
        )
    return summary


def render_retraining(summary: dict[str, Any]) -> None:
    if not summary["retrained"]:
        console.print("no drift in the window: nothing retrained")
    else:
        features = ", ".join(summary["drifted_features"]) or "forced"
        decision = summary["decision"]
        console.print(
            f"retrained ({features}): model [bold]{summary['model']}[/] version "
            f"[bold]{summary['version']}[/], gate: {decision.get('reason', '')}"
        )
        alias_text = ", ".join(f"{a} -> v{v}" for a, v in sorted(summary["aliases"].items()))
        console.print(f"  aliases: {alias_text or 'none'}")
    if summary["drift_report"]:
        console.print(f"  drift report: {summary['drift_report']}", soft_wrap=True)
    console.print(f"  pipeline log: {summary['log']}", soft_wrap=True)
    console.print(f"  took {summary['seconds']} s")
