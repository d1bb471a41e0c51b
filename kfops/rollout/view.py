"""How a rollout looks to a person: the ``rollout get`` tree and the timeline picture."""

from __future__ import annotations

import time
from pathlib import Path

from rich.tree import Tree

from kfops.config.rollout import RolloutSpec, Step, parse_duration
from kfops.rollout.engine.status import AnalysisPhase, HistoryPoint, RolloutPhase, RolloutStatus

PHASE_STYLE = {
    RolloutPhase.PROGRESSING: "bold yellow",
    RolloutPhase.PAUSED: "bold cyan",
    RolloutPhase.HEALTHY: "bold green",
    RolloutPhase.DEGRADED: "bold red",
}
ANALYSIS_MARK = {
    AnalysisPhase.PENDING: "[dim]○[/]",
    AnalysisPhase.RUNNING: "[yellow]◌[/]",
    AnalysisPhase.SUCCESSFUL: "[green]✔[/]",
    AnalysisPhase.FAILED: "[red]✖[/]",
    AnalysisPhase.ERROR: "[red]⚠[/]",
    AnalysisPhase.INCONCLUSIVE: "[cyan]?[/]",
}


def describe_step(step: Step) -> str:
    """One line per step, in the spec's own words."""
    if step.set_weight is not None:
        return f"setWeight {step.set_weight}"
    if step.pause is not None:
        if step.pause.duration is None:
            return "pause (until promote)"
        return f"pause {parse_duration(step.pause.duration):g}s"
    if step.analysis is not None:
        return "analysis " + ", ".join(t.template_name for t in step.analysis.templates)
    if step.set_mirror is not None:
        return f"setMirror {step.set_mirror.percent}%"
    assert step.experiment is not None
    experiment = step.experiment
    return (
        f"experiment {parse_duration(experiment.duration):g}s, {experiment.weight}% candidate, "
        f"{experiment.comparison.test} on {experiment.comparison.metric}"
    )


def _value(value: object) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(f"{v:.4g}" for v in value) + "]"
    if isinstance(value, float):
        return f"{value:.4g}"
    return "—" if value is None else str(value)


def gate_line(status: RolloutStatus) -> str:
    """Which gate decision the rollout started from, so a forced start stays visible."""
    decision = status.gate_decision or "none recorded"
    return f"gate decision on the candidate: {decision}" + (
        " [red](started with --force)[/]" if status.gate_forced else ""
    )


def rollout_tree(name: str, spec: RolloutSpec, status: RolloutStatus) -> Tree:
    """Steps, traffic, analysis runs and their measurements, as ``kubectl argo rollouts get``."""
    style = PHASE_STYLE.get(status.phase, "bold")
    steps = spec.strategy.canary.steps
    header = (
        f"[bold]{name}[/]  {spec.model}: stable v{spec.stable.version} → candidate "
        f"v{spec.candidate.version}\n[{style}]{status.phase}[/]"
        f"{' (aborted)' if status.abort else ''}  step {min(status.current_step_index + 1, len(steps))}"
        f"/{len(steps)}  candidate weight {status.canary_weight}%"
        f"{f'  mirror {status.mirror_percent}%' if status.mirror_percent else ''}"
        f"{'  sticky ' + (status.sticky_header or status.sticky_field or '') if status.sticky_header or status.sticky_field else ''}"
    )
    if status.gate_decision is not None or status.gate_forced:
        header += f"\n{gate_line(status)}"
    if status.message:
        header += f"\n[dim]{status.message}[/]"
    tree = Tree(header)
    for condition in status.pause_conditions:
        tree.add(f"[cyan]paused[/]: {condition.reason} {condition.message}".rstrip())
    branch = tree.add("[bold]steps[/]")
    done = status.phase == RolloutPhase.HEALTHY
    for index, step in enumerate(steps):
        if done or index < status.current_step_index:
            mark = "[green]✔[/]"
        elif index == status.current_step_index:
            mark = "[red]✖[/]" if status.abort else "[yellow]▶[/]"
        else:
            mark = "[dim]○[/]"
        branch.add(f"{mark} {index}: {describe_step(step)}")
    if status.analysis_runs:
        runs = tree.add("[bold]analysis runs[/]")
        for run in status.analysis_runs:
            node = runs.add(f"{ANALYSIS_MARK[run.phase]} {run.name}  {run.phase}  {run.message}")
            for result in run.metric_results:
                counts = (
                    f"✔{result.successful} ✖{result.failed} ?{result.inconclusive} ⚠{result.error}"
                )
                metric = node.add(f"{ANALYSIS_MARK[result.phase]} {result.name}  {counts}")
                for m in result.measurements[-5:]:
                    metric.add(
                        f"{ANALYSIS_MARK[m.phase]} {_value(m.value)}"
                        f"{'  ' + m.message if m.message else ''}"
                    )
    if status.experiment is not None and status.experiment.result is not None:
        result = status.experiment.result
        tree.add(f"[bold]experiment[/]: {result.model_dump_json(by_alias=True)}")
    return tree


MEASUREMENT_COLOUR = {
    AnalysisPhase.SUCCESSFUL: "tab:green",
    AnalysisPhase.FAILED: "tab:red",
    AnalysisPhase.ERROR: "tab:orange",
    AnalysisPhase.INCONCLUSIVE: "tab:cyan",
}


def timeline_png(name: str, history: list[HistoryPoint], status: RolloutStatus, path: Path) -> Path:
    """Candidate weight and mirror over time, the events that moved them, and below, each
    analysis measurement as a dot coloured by its verdict."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not history:
        history = [HistoryPoint(time=time.time(), step=0, candidate_weight=0,
                                mirror_percent=0, phase=str(status.phase))]  # fmt: skip
    start = history[0].time
    seconds = [point.time - start for point in history] + [history[-1].time - start]
    weights = [point.candidate_weight for point in history] + [history[-1].candidate_weight]
    mirrors = [point.mirror_percent for point in history] + [history[-1].mirror_percent]
    rows = [
        (f"{run.name}/{result.name}", result.measurements)
        for run in status.analysis_runs
        for result in run.metric_results
    ]
    fig, (ax, lower) = plt.subplots(
        2, 1, figsize=(9, 5.5), sharex=True, height_ratios=(3, max(1, len(rows)))
    )
    ax.step(seconds, weights, where="post", label="candidate weight %", color="tab:blue")
    if any(mirrors):
        ax.step(seconds, mirrors, where="post", label="mirror %", color="tab:purple", ls="--")
    for point in history:
        if point.note:
            ax.axvline(point.time - start, color="grey", lw=0.5, alpha=0.5)
    colour = {"Healthy": "tab:green", "Degraded": "tab:red", "Paused": "tab:cyan"}
    ax.set_title(f"rollout {name}: {status.phase}", color=colour.get(str(status.phase), "black"))
    ax.set_ylabel("% of requests")
    ax.set_ylim(-5, 105)
    ax.legend(loc="upper left")
    ax.grid(alpha=0.3)
    for row, (_, measurements) in enumerate(rows):
        for m in measurements:
            lower.scatter(m.started_at - start, row, color=MEASUREMENT_COLOUR.get(m.phase, "grey"))
    lower.set_yticks(range(len(rows)), [label for label, _ in rows] or [])
    lower.set_ylim(-0.5, max(len(rows), 1) - 0.5)
    lower.set_xlabel("seconds since start")
    lower.grid(alpha=0.3)
    if not rows:
        lower.text(0.5, 0.5, "no analysis", transform=lower.transAxes, ha="center", va="center")
        lower.set_yticks([])
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
