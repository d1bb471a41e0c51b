"""Data commands: the dataset versions this project's runs trained on, and their lineage."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from kfops.cli.common import console, exits_cleanly, resolve_config
from kfops.registry.lineage import DatasetVersion, iso_time

ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="kfops.yaml")]
SetOpt = Annotated[list[str] | None, typer.Option("--set", help="Override any key.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the history as JSON.")]

SHORT = 12  # characters of a digest or commit shown in the table
COLUMNS = (
    "digest",
    "rows",
    "schema",
    "source",
    "revision",
    "first seen",
    "last seen",
    "runs",
    "model versions",
)


def _when(millis: int) -> str:
    return iso_time(millis).replace("T", " ").removesuffix("Z")[:16]


def history_table(datasets: list[DatasetVersion]) -> Table:
    """One row per dataset version, oldest first; JSON has the full digests and run list."""
    table = Table(title="dataset versions (times in UTC)", header_style="bold")
    for name in COLUMNS:
        table.add_column(name, justify="right" if name == "rows" else "left")
    for ds in datasets:
        table.add_row(
            ds.digest[:SHORT],
            "" if ds.rows is None else str(ds.rows),
            ds.schema_digest[:SHORT],
            "\n".join(ds.sources),
            "\n".join(rev[:SHORT] for rev in ds.revisions),
            _when(ds.first_seen),
            _when(ds.last_seen),
            "\n".join(run.run_id[:SHORT] for run in ds.runs),
            "\n".join(f"{mv.name} v{mv.version}" for mv in ds.model_versions),
        )
    return table


def register(app: typer.Typer) -> None:
    data_app = typer.Typer(
        name="data", help="Dataset versions and what was trained on them.", no_args_is_help=True
    )

    @data_app.command()
    @exits_cleanly
    def history(config: ConfigOpt = None, set_: SetOpt = None, json_out: JsonOpt = False) -> None:
        """List the dataset versions runs trained on, with their runs and model versions."""
        from kfops.registry.lineage import dataset_history

        cfg = resolve_config(config, overrides=set_)
        uri = cfg.resolved_tracking_uri()
        datasets = dataset_history(uri, cfg.experiment_name, cfg.tracking.registry_uri)
        if json_out:
            payload = {
                "experiment": cfg.experiment_name,
                "tracking_uri": uri,
                "datasets": [ds.to_dict() for ds in datasets],
            }
            typer.echo(json.dumps(payload, indent=2))
            return
        if not datasets:
            console.print(
                f"no training runs in experiment '{cfg.experiment_name}' ({uri}); "
                "run 'kfops run' first"
            )
            return
        console.print(history_table(datasets))

    app.add_typer(data_app, name="data")
