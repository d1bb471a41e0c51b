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
    """A table on a terminal wide enough for it, one ``column: value`` block per row on a
    narrower one, and tab-separated whole values when stdout is piped.

    No value is ever cut to a few characters with an ellipsis. On a terminal ``short`` may
    shorten a row (digests to 12 characters). Piped, every value is whole and on one line
    (several values of a cell joined by commas) under a header line, and the title goes
    to stderr, so ``cut -f`` and ``grep`` see nothing but rows.
    """
    if not console.is_terminal:
        if title:
            err_console.print(title)
        out = sys.stdout
        out.write("\t".join(columns) + "\n")
        for row in rows:
            out.write("\t".join(",".join(cell.splitlines()) for cell in row) + "\n")
        out.flush()
        return
    shown = [list(short(row)) if short else list(row) for row in rows]
    widths = [
        max([len(name), *(len(line) for row in shown for line in row[i].splitlines())])
        for i, name in enumerate(columns)
    ]
    if sum(widths) + 3 * len(columns) + 1 <= console.width:
        table = Table(title=title, header_style="bold")
        for name in columns:
            table.add_column(name, justify="right" if name in right else "left", overflow="fold")
        for row in shown:
            table.add_row(*row)
        console.print(table)
        return
    if title:
        console.print(f"[bold]{title}[/]")
    for row in shown:
        console.print()
        for name, cell in zip(columns, row, strict=True):
            console.print(f"[bold]{name}:[/] {', '.join(cell.splitlines())}", soft_wrap=True)


def print_json(payload: object) -> None:
    """The one JSON document of a ``--json`` command, alone on stdout.

    Written directly, not through rich: a console wraps long strings at its width.
    """
    sys.stdout.write(json.dumps(payload, indent=2, default=str) + "\n")
    sys.stdout.flush()
