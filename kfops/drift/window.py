"""Which logged requests a check reads: the window, its predecessor, and their rows.

The model server writes ``<log>/model=NAME/version=V/date=YYYY-MM-DD/part-*.parquet``
with one row per input row, a ``time`` column and one ``feature.<name>`` column per
input (kfops.serving.inference_log). A window is ``[start, end)``; the previous window is
the same length just before it. Both read every version of the model: drift is about
the inputs, whichever version answered them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from kfops.config.drift import duration_seconds
from kfops.errors import ConfigurationError, DataError, one_line

FEATURE_PREFIX = "feature."  # the server's column for an input feature (inference_log.to_rows)
TIME_COLUMN = "time"


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime

    def before(self) -> Window:
        """The window of the same length that ends where this one starts."""
        return Window(self.start - (self.end - self.start), self.start)

    def to_dict(self) -> dict[str, str]:
        return {"start": self.start.isoformat(), "end": self.end.isoformat()}


def parse_since(text: str, now: datetime) -> Window:
    """``24h`` -> the last 24 hours; ``2025-06-01T12:00Z`` -> from then until now."""
    seconds = duration_seconds(text)
    if seconds is not None:
        return Window(now - timedelta(seconds=seconds), now)
    try:
        start = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ConfigurationError(
            f"--since {text!r}: neither a duration (30m, 24h, 7d) nor an ISO timestamp "
            "(2025-06-01T12:00:00Z)"
        ) from None
    start = start.astimezone(UTC) if start.tzinfo else start.replace(tzinfo=UTC)
    if start >= now:
        raise ConfigurationError(f"--since {text!r} is not in the past; pass an earlier time")
    return Window(start, now)


def _day(folder: Path) -> date | None:
    try:
        return date.fromisoformat(folder.name.removeprefix("date="))
    except ValueError:
        return None


def model_files(log_dir: Path, model: str) -> list[Path]:
    """Every Parquet part of ``model`` in the log; one line naming the fix when there is none."""
    if not log_dir.is_dir():
        raise DataError(
            f"no inference log at {log_dir}: serve with serving.inference_log.sample_rate > 0 "
            "(kfops serve) so requests are logged, or set serving.inference_log.path to the log"
        )
    files = sorted(log_dir.glob(f"model={model}/version=*/date=*/*.parquet"))
    if not files:
        found = sorted(p.name.removeprefix("model=") for p in log_dir.glob("model=*"))
        others = f" (it holds {', '.join(found)}; pass --model)" if found else ""
        raise DataError(f"inference log {log_dir} has no requests of model '{model}'{others}")
    return files


def read_window(files: list[Path], window: Window) -> Any:
    """The logged rows with ``start <= time < end`` as pandas, from the days they can be on."""
    import pandas as pd
    import pyarrow.parquet as pq

    first, last = window.start.date(), window.end.date()
    frames = []
    for path in files:
        day = _day(path.parent)
        if day is not None and not first <= day <= last:
            continue
        try:
            frame = pq.read_table(path).to_pandas()
        except Exception as exc:
            raise DataError(
                f"inference log file {path} is not readable Parquet ({one_line(exc)}); "
                "move it out of the log"
            ) from exc
        times = pd.to_datetime(frame[TIME_COLUMN], utc=True)
        frames.append(frame[(times >= window.start) & (times < window.end)])
    if not frames:
        return pd.DataFrame()
    return pd.concat(frames, ignore_index=True)


def feature_frame(rows: Any) -> Any:
    """Only the features, under their own names (``feature.age`` -> ``age``)."""
    columns = [c for c in rows.columns if c.startswith(FEATURE_PREFIX)]
    frame = rows[columns].copy()
    frame.columns = [c.removeprefix(FEATURE_PREFIX) for c in columns]
    return frame


def logged_span(files: list[Path]) -> tuple[datetime, datetime] | None:
    """First and last request time in the log, for a message about an empty window."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    bounds = []
    for path in files:
        times = pq.read_table(path, columns=[TIME_COLUMN])[TIME_COLUMN]
        if len(times):
            low, high = pc.min_max(times).values()
            bounds += [low.as_py(), high.as_py()]
    if not bounds:
        return None
    aware = [b if b.tzinfo else b.replace(tzinfo=UTC) for b in bounds]
    return min(aware), max(aware)
