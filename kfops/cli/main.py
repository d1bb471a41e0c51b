"""``kfops``: run, inspect and ship the pipelines of one kfops.yaml."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.control import Control, ControlType

from kfops.cli import cluster as cluster_cli
from kfops.cli import dashboard as dashboard_cli
from kfops.cli import data as data_cli
from kfops.cli import drift as drift_cli
from kfops.cli import monitoring as monitoring_cli
from kfops.cli import new as new_cli
from kfops.cli import rollout as rollout_cli
from kfops.cli import serve as serve_cli
from kfops.cli import webhook as webhook_cli
from kfops.cli.common import console, err_console, print_json, resolve_config
from kfops.errors import ConfigurationError, exit_on_error
from kfops.runners.progress import StepEvent, StepStatus

app = typer.Typer(
    name="kfops",
    help="Kubeflow-native MLOps: one kfops.yaml from dataset to registered model.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
)


def _print_version(value: bool) -> None:
    if value:
        from kfops import __version__

        typer.echo(__version__)
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Kubeflow-native MLOps: one kfops.yaml from dataset to registered model."""


cluster_cli.register(app)
data_cli.register(app)
dashboard_cli.register(app)
serve_cli.register(app)
rollout_cli.register(app)
monitoring_cli.register(app)
drift_cli.register(app)
webhook_cli.register(app)
new_cli.register(app)

ConfigOpt = Annotated[
    Path | None, typer.Option("--config", "-c", help="kfops.yaml (default: ./kfops.yaml).")
]
DataOpt = Annotated[
    str | None, typer.Option("--data", help="Dataset path or URI; overrides data.path.")
]
TargetOpt = Annotated[
    str | None, typer.Option("--target", help="Target column; overrides data.target.")
]
SetOpt = Annotated[
    list[str] | None,
    typer.Option("--set", help="Override any key, e.g. --set model.params.n_estimators=200."),
]

STATUS_STYLE = {
    StepStatus.SUCCEEDED: "[green]✓[/]",
    StepStatus.CACHED: "[cyan]↺[/]",
    StepStatus.FAILED: "[red]✗[/]",
}


def event_printer(out: Console, steps: list[str] | tuple[str, ...] = ()):
    """Progress lines go to the terminal we started on: the run redirects sys.stdout.

    ``steps``: the run's step names (the user's too), so the times line up under the
    longest.
    """
    width = max([10, *map(len, steps)])

    def print_event(event: StepEvent) -> None:
        if out.is_terminal:
            out.control(Control((ControlType.ERASE_IN_LINE, 2)))  # the last "… step" line
        if event.status in (StepStatus.STARTED, StepStatus.PROGRESS):
            if out.is_terminal:
                said = f": {event.detail}" if event.detail else ""
                out.print(f"[dim]… {event.step}{said}[/]", end="\r", no_wrap=True, crop=True)
            return
        note = {StepStatus.CACHED: "cached", StepStatus.FAILED: "failed"}.get(event.status, "")
        took = f"{event.seconds:5.1f} s" if event.status is not StepStatus.CACHED else "      "
        out.print(f"{STATUS_STYLE[event.status]} {event.step:<{width}} {took} {note}".rstrip())

    return print_event


@app.command()
@exit_on_error
def run(
    config: ConfigOpt = None,
    data: DataOpt = None,
    target: TargetOpt = None,
    set_: SetOpt = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Run every step again.")] = False,
    runner: Annotated[
        str,
        typer.Option(
            "--runner",
            help="subprocess: steps in this environment; docker: each step in the image "
            "the compiled pipeline names (see 'kfops images').",
        ),
    ] = "subprocess",
    pipeline: Annotated[
        str,
        typer.Option(
            "--pipeline",
            help="training, or retraining: a drift check of the served traffic first, "
            "training only when it drifted.",
        ),
    ] = "training",
    force: Annotated[
        bool, typer.Option("--force", help="retraining: train even when nothing drifted.")
    ] = False,
    json_out: Annotated[
        bool, typer.Option("--json", help="Print only the summary, as JSON (progress to stderr).")
    ] = False,
) -> None:
    """Run the training (or retraining) pipeline on the embedded local runner."""
    from kfops.cli.summary import gather, gather_retraining, render, render_retraining
    from kfops.runners.compile import pipeline_builder
    from kfops.runners.interrupts import RunInterrupted
    from kfops.runners.local import RUNNERS, run_pipeline_locally

    if runner not in RUNNERS:
        raise ConfigurationError(f"--runner: unknown runner '{runner}'; use {' or '.join(RUNNERS)}")
    if force and pipeline != "retraining":
        raise ConfigurationError("--force: only the retraining pipeline checks drift first")
    cfg = resolve_config(config, data, target, set_)
    factory = pipeline_builder(cfg, pipeline)
    if no_cache:
        cfg.runtime.caching = False
    out = err_console if json_out else console
    out.print(f"[bold]kfops-{pipeline}[/] for project [bold]{cfg.project}[/] on {cfg.data.path}")
    # Bound now: the run redirects sys.stdout to its log while the steps run.
    progress = Console(file=sys.stderr if json_out else sys.stdout, highlight=False)
    arguments = {"force": force} if pipeline == "retraining" else {}
    try:
        result = run_pipeline_locally(
            cfg,
            factory,
            event_printer(progress, [step.name for step in cfg.steps]),
            runner=runner,
            arguments=arguments,
        )
    except RunInterrupted as stop:
        # One line, then the shell's status for a signal (130 for SIGINT, 143 for SIGTERM).
        sys.stderr.write(f"kfops: {stop.message}\n")
        sys.stderr.flush()
        raise SystemExit(stop.exit_code) from None
    if pipeline == "retraining":
        summary = gather_retraining(cfg, result)
        print_json(summary) if json_out else render_retraining(summary)
        return
    summary = gather(cfg, result)
    if json_out:
        print_json(summary)
    else:
        render(summary)


@app.command()
@exit_on_error
def ui(
    config: ConfigOpt = None,
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1.")] = 5000,
) -> None:
    """Start the MLflow UI on 127.0.0.1 over this project's tracking store."""
    cfg = resolve_config(config)
    uri = cfg.resolved_tracking_uri()
    # One worker: a local UI for one person; four (the default) take a minute to start here.
    cmd = [sys.executable, "-m", "mlflow", "ui", "--host", "127.0.0.1", "--port", str(port)]
    cmd += ["--workers", "1"]
    cmd += ["--backend-store-uri", uri]
    artifacts = cfg.resolved_artifact_location()
    if artifacts:
        cmd += ["--default-artifact-root", artifacts]
    console.print(f"MLflow UI on http://127.0.0.1:{port} ({uri}); Ctrl-C stops it")
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"}
    raise typer.Exit(subprocess.call(cmd, env=env))


@app.command()
@exit_on_error
def images(
    config: ConfigOpt = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the table as JSON.")] = False,
    with_: Annotated[
        Path | None,
        typer.Option("--with", help="Build cluster.image plus this package, folder or wheel."),
    ] = None,
) -> None:
    """Show which image each component runs in (cluster: section); `make images` builds them."""
    from kfops.cli.common import print_table
    from kfops.cluster.images import build_user_image, docker_client, image_plan, user_image

    if with_ is not None:
        built = user_image(resolve_config(config), with_)
        build_user_image(built, docker_client())
        if json_out:
            print_json({"image": built.tag})
        else:
            console.print(
                f"built {built.tag}; use: --set cluster.image={built.tag}", soft_wrap=True
            )
        return
    plan = image_plan(resolve_config(config))
    if json_out:
        print_json(plan.as_dict())
        return
    print_table("images", ["component", "image"], sorted(plan.components.items(), key=_order))


def _order(item: tuple[str, str]) -> int:
    from kfops.cluster.task_settings import COMPONENT_NAMES

    name = item[0]
    return COMPONENT_NAMES.index(name) if name in COMPONENT_NAMES else len(COMPONENT_NAMES)


@app.command()
def version() -> None:
    """Print the kfops version (as --version does)."""
    from kfops import __version__

    typer.echo(__version__)


def main() -> None:  # pragma: no cover - console script entry
    app()


if __name__ == "__main__":  # pragma: no cover
    err_console.print("use the 'kfops' command")
    main()
