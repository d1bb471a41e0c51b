"""One drift check: a window of logged requests against training (skew) and the one before
(drift)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kfops.config.drift import DriftConfig
from kfops.drift.feedback import LiveMetric
from kfops.drift.reference import Reference
from kfops.drift.runtime import run_tfdv
from kfops.drift.window import Window, feature_frame, logged_span, model_files, read_window
from kfops.errors import DataError

SKEW, DRIFT = "skew", "drift"  # the comparison label of kfops.series.FEATURE_DRIFT_DISTANCE


@dataclass(frozen=True)
class FeatureDrift:
    name: str
    comparison: str
    kind: str
    distance: float
    threshold: float
    tfdv_distance: float | None = None  # TFDV's histogram figure where kfops measured another

    @property
    def drifted(self) -> bool:
        """Further than allowed: TFDV's own rule (an anomaly when distance > threshold)."""
        return self.distance > self.threshold

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "distance": self.distance,
            "threshold": self.threshold,
            "drifted": self.drifted,
            "comparison": self.comparison,
            "kind": self.kind,
            **({} if self.tfdv_distance is None else {"tfdv_distance": self.tfdv_distance}),
        }


@dataclass(frozen=True)
class DriftReport:
    model: str
    version: str
    window: Window
    previous_window: Window
    rows: int
    previous_rows: int
    features: tuple[FeatureDrift, ...]
    not_logged: tuple[str, ...] = ()
    facets_html: str = ""
    served_statistics: str = ""
    notes: tuple[str, ...] = field(default=())
    performance: tuple[LiveMetric, ...] = ()

    @property
    def drifted(self) -> bool:
        return any(f.drifted for f in self.features)

    @property
    def degraded(self) -> bool:
        """A served version's live metric fell further below its registered score than allowed."""
        return any(p.degraded for p in self.performance)

    def drifted_features(self) -> list[str]:
        return sorted({f.name for f in self.features if f.drifted})

    def to_dict(self) -> dict[str, Any]:
        """``{"drifted", "features": [{"name", "distance", "threshold", "drifted", ...}], ...}``."""
        return {
            "drifted": self.drifted,
            "features": [f.to_dict() for f in self.features],
            "model": self.model,
            "version": self.version,
            "window": {**self.window.to_dict(), "rows": self.rows},
            "previous_window": {**self.previous_window.to_dict(), "rows": self.previous_rows},
            "not_logged": list(self.not_logged),
            "notes": list(self.notes),
            "degraded": self.degraded,
            "performance": [p.to_dict() for p in self.performance],
        }


def _empty_window(log_dir: Path, model: str, window: Window, files: list[Path]) -> DataError:
    span = logged_span(files)
    logged = (
        f"; the log has requests from {span[0]:%Y-%m-%dT%H:%M:%SZ} to {span[1]:%Y-%m-%dT%H:%M:%SZ}"
    )
    return DataError(
        f"inference log {log_dir}: no requests of model '{model}' between "
        f"{window.start:%Y-%m-%dT%H:%M:%SZ} and {window.end:%Y-%m-%dT%H:%M:%SZ}"
        f"{logged if span else ''}; pass a longer --since (or drift.window) or send traffic"
    )


def _measured(result: dict[str, Any], comparison: str) -> list[FeatureDrift]:
    kinds = result["kinds"]
    return [
        FeatureDrift(
            name,
            comparison,
            kinds.get(name, ""),
            float(m["distance"]),
            float(m["threshold"]),
            float(m["tfdv_distance"]) if "tfdv_distance" in m else None,
        )
        for name, m in sorted(result[comparison].items())
    ]


@dataclass(frozen=True)
class Windows:
    """The logged requests of a window and of the one before, written for the TFDV worker."""

    model: str
    source: Path
    window: Window
    previous_window: Window
    current: Path
    previous: Path | None
    logged: tuple[str, ...]
    rows: Any = None  # the current window's logged rows, predictions included


def read_windows(log_dir: Path, model: str, window: Window, work: Path) -> Windows:
    """Read both windows from the log (before any registry or TFDV work, so bad input fails
    fast); an empty current window is an error, an empty previous one is not."""
    files = model_files(log_dir, model)
    rows = read_window(files, window)
    current = feature_frame(rows)
    if current.empty:
        raise _empty_window(log_dir, model, window, files)
    previous_window = window.before()
    previous = feature_frame(read_window(files, previous_window))
    work.mkdir(parents=True, exist_ok=True)
    current.to_parquet(work / "current.parquet", index=False)
    previous_path = None
    if not previous.empty:
        previous_path = work / "previous.parquet"
        previous.to_parquet(previous_path, index=False)
    return Windows(
        model,
        log_dir,
        window,
        previous_window,
        work / "current.parquet",
        previous_path,
        tuple(current.columns),
        rows,
    )


def check_drift(
    settings: DriftConfig,
    windows: Windows,
    reference: Reference,
    out_dir: Path,
    excluded: Collection[str] = (),
) -> DriftReport:
    """Compare the served inputs of the window with training and with the window before.

    ``excluded`` names logged columns that are no features to compare (ids, the target).
    The previous window may be empty (a new model): then only skew is measured, and the
    report says so.
    """
    thresholds = {
        name: settings.threshold_for(name) for name in windows.logged if name not in excluded
    }
    result = run_tfdv(
        {
            "current_path": str(windows.current),
            "previous_path": str(windows.previous) if windows.previous else None,
            "training_statistics": str(reference.statistics),
            "training_schema": str(reference.schema) if reference.schema else None,
            "thresholds": thresholds,
            "logged": list(windows.logged),
            "source": str(windows.source),
            "model": f"{reference.model} version {reference.version}",
            "out_dir": str(out_dir),
        },
        log_path=out_dir / "tfdv.log",
    )
    notes = []
    if windows.previous is None:
        before = windows.previous_window
        notes.append(
            f"no requests in the previous window ({before.start:%Y-%m-%dT%H:%M:%SZ} to "
            f"{before.end:%Y-%m-%dT%H:%M:%SZ}): drift not measured, skew only"
        )
    return DriftReport(
        model=reference.model,
        version=reference.version,
        window=windows.window,
        previous_window=windows.previous_window,
        rows=int(result["rows"]),
        previous_rows=int(result["previous_rows"]),
        features=tuple(_measured(result, SKEW) + _measured(result, DRIFT)),
        not_logged=tuple(n for n in result.get("not_logged", ()) if n not in excluded),
        facets_html=str(result["facets_html"]),
        served_statistics=str(result["served_statistics"]),
        notes=tuple(notes),
    )
