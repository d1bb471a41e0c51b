"""``kfops monitoring render``: the Prometheus rules, Grafana dashboards and monitoring
objects, written with the thresholds and SLO targets of a settings file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kfops.cli.common import console
from kfops.errors import exit_on_error

OutOpt = Annotated[
    Path, typer.Option("--out", help="Folder to write (the same layout as manifests/monitoring).")
]
SettingsOpt = Annotated[
    Path | None,
    typer.Option(
        "--settings",
        help="YAML mapping of monitoring settings (SLO targets, thresholds, namespaces); "
        "unset keys keep their defaults (docs/monitoring.md).",
    ),
]


def register(app: typer.Typer) -> None:
    monitoring_app = typer.Typer(
        name="monitoring",
        help="Prometheus rules, Grafana dashboards and their Kubernetes objects.",
        no_args_is_help=True,
    )

    @monitoring_app.command("render")
    @exit_on_error
    def render(
        out: OutOpt = Path("monitoring"),
        settings: SettingsOpt = None,
    ) -> None:
        """Write rule files, a PrometheusRule, PodMonitors, dashboards (JSON and ConfigMaps),
        seldon-core-analytics values and a kustomization to --out."""
        from kfops.monitoring.render import write
        from kfops.monitoring.rules import load_settings

        written = write(out, load_settings(settings))
        console.print(f"wrote {len(written)} files to {out}")

    app.add_typer(monitoring_app, name="monitoring")
