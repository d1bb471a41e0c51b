"""Data commands: the dataset versions this project's runs trained on, and their lineage."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer

from kfops.cli.common import console, print_table, resolve_config
from kfops.errors import exit_on_error
from kfops.registry.lineage import DatasetVersion, iso_time

ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="kfops.yaml")]
SetOpt = Annotated[list[str] | None, typer.Option("--set", help="Override any key.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the history as JSON.")]

SHORT = 12  # characters of a digest, commit or run id in the terminal table
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


def history_rows(datasets: list[DatasetVersion]) -> list[list[str]]:
    """One row per dataset version, oldest first, with whole digests, commits and run ids."""
    return [
        [
            ds.digest,
            "" if ds.rows is None else str(ds.rows),
            ds.schema_digest,
            "\n".join(ds.sources),
            "\n".join(ds.revisions),
            _when(ds.first_seen),
            _when(ds.last_seen),
            "\n".join(run.run_id for run in ds.runs),
            "\n".join(f"{mv.name} v{mv.version}" for mv in ds.model_versions),
        ]
        for ds in datasets
    ]


def _short(row: Sequence[str]) -> list[str]:
    """Digests, commits and run ids cut to SHORT characters for a terminal."""
    cut = {0, 2, 4, 7}
    return [
        "\n".join(part[:SHORT] for part in cell.splitlines()) if i in cut else cell
        for i, cell in enumerate(row)
    ]


def register(app: typer.Typer) -> None:
    data_app = typer.Typer(
        name="data", help="Dataset versions and what was trained on them.", no_args_is_help=True
    )

    @data_app.command()
    @exit_on_error
    def history(config: ConfigOpt = None, set_: SetOpt = None, json_out: JsonOpt = False) -> None:
        """List the dataset versions runs trained on, with their runs and model versions."""
        from kfops.registry.lineage import dataset_history

        cfg = resolve_config(config, overrides=set_)
        uri = cfg.resolved_tracking_uri()
        datasets = dataset_history(uri, cfg.experiment_name, cfg.resolved_registry_uri())
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
        print_table(
            "dataset versions (times in UTC)",
            COLUMNS,
            history_rows(datasets),
            right={"rows"},
            short=_short,
        )

    app.add_typer(data_app, name="data")
