"""Ingest: read a dataset, check it can serve the configured task, digest it, split it.

Every later stage reads the two Parquet splits written here, never the source file, so a
run sees one frozen copy of the data, named by its content digest.
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

import pandas as pd
from pandas.api import types as ptypes
from sklearn.model_selection import train_test_split

from kfops.config import DataConfig, DataFormat, TaskType
from kfops.data.dvc_source import read_dvc
from kfops.data.formats import REVISION_ATTR, format_of, read_frame
from kfops.data.object_store import PACKAGES, read_object
from kfops.errors import DataError

log = logging.getLogger(__name__)

MIN_ROWS = 10  # fewest rows worth splitting: two test rows at the default test_size 0.2
MAX_CLASSES_FOR_INTEGERS = 20  # more distinct whole numbers than this are a quantity

DatasetReader = Callable[[str, DataFormat], pd.DataFrame]


def _read_local(uri: str, fmt: DataFormat) -> pd.DataFrame:
    path = Path(unquote(urlparse(uri).path) if uri.startswith("file://") else uri)
    if not path.is_file():
        raise DataError(f"{path}: file not found; pass --data with an existing CSV or Parquet file")
    return read_frame(path, format_of(path, fmt), str(path))


READERS: dict[str, DatasetReader] = {
    "": _read_local,
    "file": _read_local,
    "dvc": read_dvc,
    **dict.fromkeys(PACKAGES, read_object),  # s3://, s3a://, gs://, gcs://, http(s)://
}
"""URI scheme -> reader. Other stores plug in here with the same signature.

Readers of versioned stores put the revision they read in ``frame.attrs[REVISION_ATTR]``.
"""


def read_dataset(uri: str, fmt: DataFormat = DataFormat.AUTO) -> pd.DataFrame:
    """Read a CSV or Parquet dataset from a local path or a URI with a registered scheme."""
    fmt = DataFormat(fmt)  # a plain "csv" from a caller works too
    scheme = urlparse(uri).scheme if "://" in uri else ""
    reader = READERS.get(scheme.lower())
    if reader is None:
        known = ", ".join(f"{s}://" for s in sorted(READERS) if s)
        raise DataError(f"{uri}: unsupported URI scheme '{scheme}'; use a local path or {known}")
    frame = reader(uri, fmt)
    if frame.shape[0] == 0 or frame.shape[1] == 0:
        raise DataError(
            f"{uri}: dataset is empty ({frame.shape[0]} rows, {frame.shape[1]} columns); "
            "pass a file with a header and at least one row"
        )
    return frame


def dataset_digest(frame: pd.DataFrame) -> str:
    """SHA-256 of the values, column names and dtypes; row order counts, the index does not.

    ``hash_pandas_object`` hashes values, not object addresses, so the digest is the same
    in every process and on every machine, and it names the exact data a model saw.
    """
    digest = hashlib.sha256()
    for name, dtype in frame.dtypes.items():
        digest.update(f"{name}\x1f{dtype}\x1e".encode())
    rows = pd.util.hash_pandas_object(frame, index=False, categorize=True)
    digest.update(rows.to_numpy().astype("<u8").tobytes())
    return digest.hexdigest()


def schema_digest(frame: pd.DataFrame) -> str:
    """SHA-256 of the column names and dtypes, in name order; the values do not count.

    Two versions of a dataset share it while only rows change; a new, dropped, renamed or
    retyped column changes it. Column order does not: models select columns by name.
    """
    digest = hashlib.sha256()
    for name, dtype in sorted((str(name), str(dtype)) for name, dtype in frame.dtypes.items()):
        digest.update(f"{name}\x1f{dtype}\x1e".encode())
    return digest.hexdigest()


def infer_task(target: pd.Series) -> TaskType:
    """Guess the task from the target's values when ``data.task`` is not set.

    Labels (text, booleans, categories) mean classification. Whole numbers mean
    classification when they take two values, or at most 20 values that are also no more
    than 5% of the rows (0..4 ratings on 1,000 rows); otherwise they are a quantity to
    regress on, as are fractional numbers.
    """
    values = target.dropna()
    if not ptypes.is_numeric_dtype(values) or ptypes.is_bool_dtype(values):
        return TaskType.CLASSIFICATION
    if not (values % 1 == 0).all():
        return TaskType.REGRESSION
    distinct = values.nunique()
    few = distinct <= MAX_CLASSES_FOR_INTEGERS and distinct <= 0.05 * len(values)
    return TaskType.CLASSIFICATION if distinct <= 2 or few else TaskType.REGRESSION


def parse_timestamps(values: pd.Series, column: str, source: str) -> pd.Series:
    """Timestamps as UTC datetimes; naive values are read as UTC, numbers as Unix seconds."""
    missing = int(values.isna().sum())
    if missing:
        raise DataError(
            f"{source}: column '{column}' has {missing} missing timestamps; "
            "fill them or drop those rows"
        )
    if ptypes.is_datetime64_any_dtype(values):
        return values.dt.tz_localize("UTC") if values.dt.tz is None else values.dt.tz_convert("UTC")
    if ptypes.is_numeric_dtype(values) and not ptypes.is_bool_dtype(values):
        parsed = pd.to_datetime(values, unit="s", utc=True, errors="coerce")
    else:
        try:
            return pd.to_datetime(values, utc=True)
        except (ValueError, TypeError, OverflowError):
            parsed = pd.to_datetime(values, utc=True, errors="coerce", format="mixed")
    bad = values[parsed.isna() & values.notna()]
    if not bad.empty:
        raise DataError(
            f"{source}: column '{column}' holds '{bad.iloc[0]}', which is not a timestamp; "
            "write timestamps as ISO-8601, e.g. 2025-01-31T12:00:00Z"
        )
    return parsed


def _split_sizes(rows: int, test_size: float) -> tuple[int, int]:
    """Rows in (train, test), rounded as scikit-learn rounds: 0.2 of 11 rows is 3 test rows."""
    test = math.ceil(rows * test_size)
    return rows - test, test


def _require_columns(frame: pd.DataFrame, data_cfg: DataConfig, source: str) -> None:
    shown = ", ".join(map(str, frame.columns[:12])) + (", ..." if frame.shape[1] > 12 else "")
    wanted = [
        ("data.target", data_cfg.target),
        ("data.entity_column", data_cfg.entity_column),
        ("data.timestamp_column", data_cfg.timestamp_column),
    ] + [("data.drop_columns", column) for column in data_cfg.drop_columns]
    for key, column in wanted:
        if column is not None and column not in frame.columns:
            raise DataError(
                f"{source}: no column '{column}' ({key}); the columns are: {shown}; "
                f"fix {key} or the file's header"
            )


def _check_target(target: pd.Series, task: TaskType, source: str) -> None:
    name = target.name
    if task is TaskType.REGRESSION:
        if not ptypes.is_numeric_dtype(target) or ptypes.is_bool_dtype(target):
            raise DataError(
                f"{source}: regression target '{name}' is {target.dtype}, e.g. "
                f"'{target.iloc[0]}'; use a numeric target or set data.task: classification"
            )
        return
    if target.nunique() < 2:
        raise DataError(
            f"single-class target '{name}' in {source}: every row is '{target.iloc[0]}'; "
            "a classifier needs at least two classes"
        )


def check_dataset(frame: pd.DataFrame, data_cfg: DataConfig, source: str) -> TaskType:
    """Fail early, with the fix in the message, on data that cannot serve the task.

    Returns the configured task, or the task inferred from the target.
    """
    if frame.shape[0] == 0 or frame.shape[1] == 0:
        raise DataError(f"{source}: dataset is empty; pass a file with at least one row")
    _require_columns(frame, data_cfg, source)
    if data_cfg.timestamp_column:
        column = data_cfg.timestamp_column
        parse_timestamps(frame[column], column, source)
    target = frame[data_cfg.target]
    missing = int(target.isna().sum())
    if missing:
        raise DataError(
            f"{source}: target '{data_cfg.target}' is missing in {missing} of {len(frame)} rows; "
            "drop or label those rows"
        )
    task = data_cfg.task or infer_task(target)
    _check_target(target, task, source)
    train_rows, test_rows = _split_sizes(len(frame), data_cfg.split.test_size)
    if len(frame) < MIN_ROWS or min(train_rows, test_rows) < 2:
        raise DataError(
            f"{source}: {len(frame)} rows split {train_rows}/{test_rows} at data.split.test_size "
            f"{data_cfg.split.test_size}; use at least {MIN_ROWS} rows and a test_size that "
            "leaves two rows on each side"
        )
    return task


def split_dataset(
    frame: pd.DataFrame, data_cfg: DataConfig, task: TaskType
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Train/test split, seeded by ``data.split.seed``; stratified for classification.

    Stratifying needs two members per class and room for every class on both sides; when
    the data do not allow it the split falls back to a plain shuffle, with a warning.
    """
    split = data_cfg.split
    stratify = None
    if task is TaskType.CLASSIFICATION and split.stratify:
        counts = frame[data_cfg.target].value_counts()
        train_rows, test_rows = _split_sizes(len(frame), split.test_size)
        if counts.min() >= 2 and len(counts) <= min(train_rows, test_rows):
            stratify = frame[data_cfg.target]
        else:
            msg = "cannot stratify on '%s' (%d classes, smallest has %d rows); plain split"
            log.warning(msg, data_cfg.target, len(counts), counts.min())
    train, test = train_test_split(
        frame, test_size=split.test_size, random_state=split.seed, stratify=stratify
    )
    return train, test


def feature_columns(frame: pd.DataFrame, data_cfg: DataConfig) -> tuple[list[str], list[str]]:
    """(numeric, categorical) model inputs, in file order.

    The target, entity, timestamp and dropped columns are not inputs. Booleans are
    categories; other datetime columns are left out, since the estimators take numbers.
    """
    excluded = {data_cfg.target, data_cfg.entity_column, data_cfg.timestamp_column}
    excluded.update(data_cfg.drop_columns)
    numeric: list[str] = []
    categorical: list[str] = []
    for name, dtype in frame.dtypes.items():
        if name in excluded or ptypes.is_datetime64_any_dtype(dtype):
            continue
        if ptypes.is_numeric_dtype(dtype) and not ptypes.is_bool_dtype(dtype):
            numeric.append(str(name))
        else:
            categorical.append(str(name))
    return numeric, categorical


@dataclass(frozen=True)
class IngestSummary:
    """What ingest saw and wrote; the digest identifies the data in the tracking store."""

    digest: str
    rows: int
    columns: int
    task: TaskType
    train_rows: int
    test_rows: int
    source: str
    schema_digest: str = ""
    revision: str = ""  # the commit a versioned source (dvc://) was read at; "" for files


def ingest(data_cfg: DataConfig, train_out: str, test_out: str) -> IngestSummary:
    """Read, check and split ``data.path``; write the splits as Parquet at the given paths.

    The timestamp column is stored as UTC datetimes, so later stages (Feast's point-in-time
    joins) read real timestamps rather than text.
    """
    source = data_cfg.path
    frame = read_dataset(source, data_cfg.format)
    task = check_dataset(frame, data_cfg, source)
    digest, schema = dataset_digest(frame), schema_digest(frame)
    revision = str(frame.attrs.get(REVISION_ATTR, ""))
    if data_cfg.timestamp_column:
        column = data_cfg.timestamp_column
        frame[column] = parse_timestamps(frame[column], column, source)
    train, test = split_dataset(frame, data_cfg, task)
    for part, out in ((train, train_out), (test, test_out)):
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        part.to_parquet(out, index=False)
    rows, columns = frame.shape
    return IngestSummary(
        digest, rows, columns, task, len(train), len(test), source, schema, revision
    )
