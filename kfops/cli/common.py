"""What every command shares: the consoles and config loading from flags.

Errors exit through :data:`kfops.errors.exit_on_error`, the wrapper every entry point uses.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Collection, Sequence
from pathlib import Path

from rich.console import Console
from rich.table import Table

from kfops.config import CONFIG_FILENAME, KfopsConfig, load_config

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)

BUNDLED_EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "churn" / CONFIG_FILENAME


def resolve_config(
    config: Path | None,
    data: str | None = None,
    target: str | None = None,
    overrides: list[str] | None = None,
) -> KfopsConfig:
    """Pick the config: --config, else ./kfops.yaml, else --data alone, else the example."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    path = config
    if path is None and data is None:
        local = Path.cwd() / CONFIG_FILENAME
        if local.is_file():
            path = local
        elif BUNDLED_EXAMPLE.is_file():
            err_console.print(
                f"[dim]no {CONFIG_FILENAME} here: using the bundled example {BUNDLED_EXAMPLE}[/]"
            )
            path = BUNDLED_EXAMPLE
    return load_config(path, overrides=overrides, data=data, target=target)


def print_table(
    title: str | None,
    columns: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    right: Collection[str] = (),
    short: Callable[[Sequence[str]], Sequence[str]] | None = None,
) -> None:
    """A table on a terminal; tab-separated full values when stdout is piped.

    On a terminal, ``short`` may shorten a row (digests to 12 characters) and columns fold
    instead of cutting values to a few characters with an ellipsis. Piped, every value is
    whole, on one line (several values of a cell joined by commas) under a header line,
    and the title goes to stderr, so ``cut -f`` and ``grep`` see nothing but rows.
    """
    if console.is_terminal:
        table = Table(title=title, header_style="bold")
        for name in columns:
            table.add_column(name, justify="right" if name in right else "left", overflow="fold")
        for row in rows:
            table.add_row(*(short(row) if short else row))
        console.print(table)
        return
    if title:
        err_console.print(title)
    out = sys.stdout
    out.write("\t".join(columns) + "\n")
    for row in rows:
        out.write("\t".join(",".join(cell.splitlines()) for cell in row) + "\n")
    out.flush()


def print_json(payload: object) -> None:
    """The one JSON document of a ``--json`` command, alone on stdout.

    Written directly, not through rich: a console wraps long strings at its width.
    """
    sys.stdout.write(json.dumps(payload, indent=2, default=str) + "\n")
    sys.stdout.flush()
