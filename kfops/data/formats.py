"""Dataset file formats: which extensions mean CSV or Parquet, shared by every reader."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from kfops.config import DataFormat
from kfops.errors import DataError, one_line

SUPPORTED = "CSV (.csv, .csv.gz) or Parquet (.parquet, .pq)"
_EXTENSIONS = {".csv": DataFormat.CSV, ".parquet": DataFormat.PARQUET, ".pq": DataFormat.PARQUET}

REVISION_ATTR = "kfops.revision"


def format_of(path: Path, fmt: DataFormat | str, source: str | None = None) -> DataFormat:
    """The format set in data.format, else told from the extension of ``path`` (the file's
    or the object's name); ``source`` is the URI the user gave, when it is not ``path``."""
    fmt = DataFormat(fmt)
    if fmt is not DataFormat.AUTO:
        return fmt
    compressed = {".gz", ".bz2", ".zip", ".xz", ".zst"}  # pandas decompresses these itself
    suffixes = [s for s in map(str.lower, path.suffixes) if s not in compressed]
    found = _EXTENSIONS.get(suffixes[-1]) if suffixes else None
    if found is None:
        where = (
            f"{source}: cannot tell the format of '{path.name}'"
            if source
            else f"{path}: cannot tell the format"
        )
        raise DataError(
            f"{where} from the extension; use {SUPPORTED}, or set data.format to csv or parquet"
        )
    return found


def read_frame(local: Path, fmt: DataFormat, source: str, noun: str = "file") -> pd.DataFrame:
    """Parse a local copy as CSV or Parquet; every reader (path, DVC, object store) ends here,
    so a parser failure reads the same wherever the data came from. ``source`` is what the
    user named (path or URI), ``noun`` what it is (file, object)."""
    try:
        return pd.read_csv(local) if fmt is DataFormat.CSV else pd.read_parquet(local)
    except pd.errors.EmptyDataError:
        return pd.DataFrame()
    except Exception as exc:  # any parser failure means "not readable in this format"
        raise DataError(
            f"{source}: cannot read as {fmt.value} ({one_line(exc)}); use {SUPPORTED}, "
            f"or set data.format to match the {noun}"
        ) from exc
