"""Replay a dataset's rows at a local rollout's router, so its analysis has traffic to judge.

Bounded on purpose: ``rows x repeats`` requests at ``rate`` per second, one row per request
(KServe v1 ``{"instances": [row]}``), in a thread that stops when the rollout ends or the
rows run out, whichever comes first. It reports progress every tenth of the way. The rows
are read with :mod:`kfops.data.formats`, as the pipeline reads the dataset; the target and
``data.drop_columns`` are left out, as training leaves them out of the features.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from kfops.config import DataFormat
from kfops.data.formats import format_of, read_frame
from kfops.errors import ConfigurationError, DataError

Printer = Callable[[str], None]
REPLAY_FLAG = "--replay"


def load_rows(path: Path, drop: Iterable[str] = ()) -> list[dict[str, Any]]:
    """The file's rows as JSON-ready dicts, without the ``drop`` columns; missing values are
    ``null``. A missing, unreadable or empty file is a one-line :class:`DataError`."""
    where = f"{REPLAY_FLAG} {path}"
    if not path.is_file():
        raise DataError(f"{where}: no such file; name a CSV or Parquet file of rows to send")
    frame = read_frame(path, format_of(path, DataFormat.AUTO, where), where)
    frame = frame.drop(columns=[column for column in drop if column in frame.columns])
    if frame.empty or not len(frame.columns):
        raise DataError(f"{where}: no rows to send; use a file with a header and rows")
    # pandas' JSON writer turns numpy scalars into plain numbers and NaN into null.
    return json.loads(frame.to_json(orient="records", date_format="iso"))


def check_pace(repeats: int, rate: float) -> None:
    """The flags' bounds, checked before a file is read (a bad flag costs no read)."""
    if repeats < 1:
        raise ConfigurationError(f"--replay-repeats is {repeats}; use 1 or more")
    if not (math.isfinite(rate) and rate > 0):
        raise ConfigurationError(f"--replay-rate is {rate}; use requests per second > 0")


@dataclass(frozen=True)
class ReplayPlan:
    """What to send: every row, ``repeats`` times, at ``rate`` requests per second."""

    rows: list[dict[str, Any]]
    repeats: int = 1
    rate: float = 10.0
    source: str = ""

    def __post_init__(self) -> None:
        check_pace(self.repeats, self.rate)

    @property
    def total(self) -> int:
        return len(self.rows) * self.repeats

    @property
    def seconds(self) -> float:
        return self.total / self.rate


@dataclass
class Replay:
    """Sends the plan's requests to ``predict_url`` from a background thread."""

    predict_url: str
    plan: ReplayPlan
    on_event: Printer = print
    timeout: float = 10.0
    sent: int = 0
    codes: Counter = field(default_factory=Counter)
    failures: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    @property
    def ok(self) -> int:
        return sum(count for code, count in self.codes.items() if 200 <= code < 300)

    def start(self) -> Replay:
        self.on_event(
            f"replay: {len(self.plan.rows)} rows x {self.plan.repeats} from {self.plan.source} "
            f"at {self.plan.rate:g}/s ({self.plan.total} requests, ~{self.plan.seconds:.0f} s) "
            f"to {self.predict_url}"
        )
        self._thread = threading.Thread(target=self._run, name="kfops-replay", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 15.0) -> None:
        """Stop sending (the request in flight finishes) and wait for the thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until every request was sent (or it stopped); whether it has finished."""
        if self._thread is not None:
            self._thread.join(timeout)
        return self.done()

    def done(self) -> bool:
        return self._thread is not None and not self._thread.is_alive()

    def _progress(self) -> str:
        failed = self.failures + sum(c for code, c in self.codes.items() if code >= 300)
        return f"{self.sent}/{self.plan.total} requests sent, {self.ok} ok, {failed} failed"

    def _run(self) -> None:
        rows, total = self.plan.rows, self.plan.total
        tenth = max(1, math.ceil(total / 10))
        started = time.monotonic()
        with httpx.Client(timeout=self.timeout) as client:
            for index in range(total):
                wait = started + index / self.plan.rate - time.monotonic()
                if self._stop.wait(max(wait, 0.0)):
                    break
                body = {"instances": [rows[index % len(rows)]]}
                try:
                    answer = client.post(self.predict_url, json=body)
                    self.codes[answer.status_code] += 1
                except httpx.HTTPError:
                    self.failures += 1
                self.sent += 1
                if self.sent % tenth == 0 and self.sent < total:
                    self.on_event(f"replay: {self._progress()}")
        ended = "stopped with the rollout" if self.sent < total else "done"
        self.on_event(f"replay {ended}: {self._progress()}")
