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
        feedback: Annotated[
            Path | None,
            typer.Option(
                "--feedback",
                help="Labels that came back (CSV/Parquet: request_id, label[, row]): score "
                "each served version's predictions against its registered score.",
            ),
        ] = None,
        json_output: Annotated[
            bool, typer.Option("--json", help="The report as JSON alone.")
        ] = False,
    ) -> None:
        """Compare logged requests with the serving version's training statistics and with the
        previous window (and, with --feedback, score them against the labels); exit 0 when
        nothing drifted, 20 when a feature drifted or a live metric degraded."""
        from kfops.config import config_to_dict
        from kfops.drift.report import (
            PERFORMANCE_COLUMNS,
            TABLE_COLUMNS,
            performance_rows,
            table_rows,
        )
        from kfops.steps.drift import DRIFT_EXIT_CODE, default_out_dir, run_drift

        cfg = resolve_config(config, overrides=set_)
        out_dir = out or default_out_dir(cfg)
        result = run_drift(
            config_to_dict(cfg),
            str(out_dir),
            model_uri=model or "",
            since=since or "",
            feedback=str(feedback) if feedback else "",
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
            if result.report["performance"]:
                print_table(
                    "live metric per served version",
                    PERFORMANCE_COLUMNS,
                    performance_rows(result.report["performance"]),
                    right=("value", "registered", "drop", "rows"),
                )
            for note in result.report.get("notes", []):
                err_console.print(note)
            verdict = (
                f"drifted: {', '.join(result.drifted_features)}" if result.drifted else "no drift"
            )
            if result.degraded:
                verdict += "; live metric degraded"
            console.print(f"{verdict}; report {result.report_html}")
        if result.drifted or result.degraded:
            raise typer.Exit(DRIFT_EXIT_CODE)
