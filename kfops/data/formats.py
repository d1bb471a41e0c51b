"""Dataset file formats: which extensions mean CSV or Parquet, shared by every reader."""

from __future__ import annotations

from pathlib import Path

from kfops.config import DataFormat
from kfops.errors import DataError

SUPPORTED = "CSV (.csv, .csv.gz) or Parquet (.parquet, .pq)"
_EXTENSIONS = {".csv": DataFormat.CSV, ".parquet": DataFormat.PARQUET, ".pq": DataFormat.PARQUET}

REVISION_ATTR = "kfops.revision"


def format_of(path: Path, fmt: DataFormat) -> DataFormat:
    if fmt is not DataFormat.AUTO:
        return fmt
    compressed = {".gz", ".bz2", ".zip", ".xz", ".zst"}  # pandas decompresses these itself
    suffixes = [s for s in map(str.lower, path.suffixes) if s not in compressed]
    found = _EXTENSIONS.get(suffixes[-1]) if suffixes else None
    if found is None:
        raise DataError(
            f"{path}: cannot tell the format from the extension; use {SUPPORTED}, "
            "or set data.format to csv or parquet"
        )
    return found
