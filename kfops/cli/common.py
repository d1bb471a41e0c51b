"""What every command shares: config loading from flags, and error exits."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console

from kfops.config import CONFIG_FILENAME, KfopsConfig, load_config
from kfops.errors import KfopsError

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)

BUNDLED_EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "churn" / CONFIG_FILENAME


def exits_cleanly(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn a KfopsError into one line on stderr and the error's exit code."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except KfopsError as exc:
            err_console.print(f"[bold red]kfops: error:[/] {exc.message}", soft_wrap=True)
            sys.exit(exc.exit_code)

    return wrapper


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
