"""``kfops drift``: the served inputs of a window against training (skew) and the window before
(drift), as a table, ``--json``, an HTML page and Prometheus gauges; exit 20 when drifted."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kfops.cli.common import console, err_console, print_json, print_table, resolve_config
from kfops.errors import exit_on_error

ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="kfops.yaml")]
SetOpt = Annotated[list[str] | None, typer.Option("--set", help="Override any key.")]


def register(app: typer.Typer) -> None:
    @app.command()
    @exit_on_error
    def drift(
        config: ConfigOpt = None,
        set_: SetOpt = None,
        model: Annotated[
            str | None,
            typer.Option(
                "--model", help="models:/NAME@ALIAS or models:/NAME/VERSION (default the champion)."
            ),
        ] = None,
        since: Annotated[
            str | None,
            typer.Option(
                "--since",
                help="Window start: a duration back from now (30m, 24h, 7d) or an ISO "
                "timestamp; default drift.window.",
            ),
        ] = None,
        out: Annotated[
            Path | None,
            typer.Option("--out", help="Report folder (default drift.report_dir or <root>/drift)."),
        ] = None,
        json_output: Annotated[
            bool, typer.Option("--json", help="The report as JSON alone.")
        ] = False,
    ) -> None:
        """Compare logged requests with the serving version's training statistics and with the
        previous window; exit 0 when no feature drifted, 20 when one did."""
        from kfops.config import config_to_dict
        from kfops.drift.report import TABLE_COLUMNS, table_rows
        from kfops.steps.drift import DRIFT_EXIT_CODE, default_out_dir, run_drift

        cfg = resolve_config(config, overrides=set_)
        out_dir = out or default_out_dir(cfg)
        result = run_drift(
            config_to_dict(cfg), str(out_dir), model_uri=model or "", since=since or ""
        )
        if json_output:
            print_json(result.report)
        else:
            print_table(
                f"{result.model} version {result.version}",
                TABLE_COLUMNS,
                table_rows(result.report["features"]),
                right=("distance", "threshold"),
            )
            for note in result.report.get("notes", []):
                err_console.print(note)
            verdict = (
                f"drifted: {', '.join(result.drifted_features)}" if result.drifted else "no drift"
            )
            console.print(f"{verdict}; report {result.report_html}")
        if result.drifted:
            raise typer.Exit(DRIFT_EXIT_CODE)
