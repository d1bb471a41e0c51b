"""Progress of a tuning run: trial n/N and the best value so far.

A rich progress bar on a terminal; one plain line per finished trial elsewhere (a KFP
pod's log, the local runner's log file), where a redrawn bar would only add noise.
"""

from __future__ import annotations

import sys
from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn


class TuningProgress:
    def __init__(self, total: int, metric: str, console: Console | None = None) -> None:
        self.total = total
        self.metric = metric
        self.console = console or Console(file=sys.stdout)
        self._bar: Progress | None = None
        self._task = None
        self._last = -1

    def __enter__(self) -> TuningProgress:
        return self

    def _start(self) -> None:
        # Started at the first update, after the tuner's worker processes were forked.
        if self.console.is_terminal and self._bar is None:
            self._bar = Progress(
                TextColumn("tuning"),
                BarColumn(),
                TextColumn("trial {task.completed}/{task.total}"),
                TextColumn("{task.fields[best]}"),
                TimeElapsedColumn(),
                console=self.console,
                transient=False,
            )
            self._bar.start()
            self._task = self._bar.add_task("tuning", total=self.total, best="")

    def update(self, done: int, best: float | None, note: str = "") -> None:
        self._start()
        best_text = "best: none yet" if best is None else f"best {self.metric}={best:.4f}"
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, completed=done, best=best_text)
        elif done != self._last:
            suffix = f" ({note})" if note else ""
            self.console.print(
                f"tuning: trial {done}/{self.total} done, {best_text}{suffix}",
                markup=False,
                highlight=False,
            )
        self._last = done

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._bar is not None:
            self._bar.stop()
