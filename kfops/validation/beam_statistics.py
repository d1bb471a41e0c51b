"""Statistics through a Beam pipeline, for splits too large for one process's memory.

Used by tfdv_worker when ``validation.beam_options`` is set: each split's Parquet file is
read in row groups, cut into slices turned into the same Arrow batches the in-memory path
builds (tfdv_worker.prepare_frame), spread over the runner's workers and summarised
by ``tfdv.GenerateStatistics``. Runs in the TFDV runtime only (Beam comes with TFDV).

``DirectRunner`` (also the runner when the flags name none) is run as Beam's
``FnApiRunner``, the engine DirectRunner itself falls back to for batch pipelines:
DirectRunner first tries Beam's Prism runner, which downloads a binary from GitHub.
``--direct_num_workers`` and ``--direct_running_mode=multi_processing`` apply to it.
"""

from __future__ import annotations

import contextlib
import difflib
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq
import tensorflow_data_validation as tfdv
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
from tensorflow_metadata.proto.v0 import schema_pb2
from tfx_bsl.arrow import table_util

from kfops.errors import ValidationError
from kfops.validation.tfdv_worker import SPLITS, STATS_FILE, prepare_frame, table_to_frame

SETTING = "validation.beam_options"
LOCAL_ENGINE = "FnApiRunner"
# Runners that execute in this process's machine; unknown flags would go nowhere there.
_LOCAL_RUNNERS = {"direct", "switchingdirect", "fnapi", "bundlebaseddirect"}
# Rows per slice, one unit of work for a Beam worker: TFDV's own default batch size.
SLICE_ROWS = 1000
JOINT_STATS_FILE = "both_stats.pb"


def _runner_key(name: str) -> str:
    key = name.rsplit(".", 1)[-1].lower()
    return key[: -len("runner")] if key.endswith("runner") else key


def _parser_and_check(options: PipelineOptions, flags: list[str]) -> Any:
    """Beam's own argument parser for every known option, after checking the values parse."""
    parsers: list[Any] = []
    captured = io.StringIO()
    try:
        with contextlib.redirect_stderr(captured):
            options.get_all_options(add_extra_args_fn=parsers.append)
    except SystemExit:
        lines = [line for line in captured.getvalue().splitlines() if line.strip()]
        detail = lines[-1].split("error: ", 1)[-1] if lines else "unparseable"
        raise ValidationError(
            f"{SETTING}: {detail}; fix the flag (see Beam's pipeline options)"
        ) from None
    return parsers[0]


def pipeline_options(flags: list[str]) -> PipelineOptions:
    """Beam options from the flags, checked; a local runner becomes the FnApiRunner.

    With a local runner an unknown flag is an error (nothing would read it); a remote
    runner (Flink, Spark, Dataflow, a portable job server) gets unknown flags passed on.
    """
    options = PipelineOptions(flags)
    parser = _parser_and_check(options, flags)
    standard = options.view_as(StandardOptions)
    runner = standard.runner or "DirectRunner"
    known = {_runner_key(name) for name in StandardOptions.KNOWN_RUNNER_NAMES}
    if "." not in runner and _runner_key(runner) not in known:
        raise ValidationError(
            f"{SETTING}: unknown Beam runner '{runner}'; use one of "
            f"{', '.join(StandardOptions.KNOWN_RUNNER_NAMES)} or a dotted class path"
        )
    if _runner_key(runner) in _LOCAL_RUNNERS:
        _, unknown = parser.parse_known_args(flags)
        if unknown:
            flag = unknown[0].split("=", 1)[0]
            known_flags = [o for action in parser._actions for o in action.option_strings]
            close = difflib.get_close_matches(flag, known_flags, n=1)
            hint = f"did you mean {close[0]}?" if close else "remove it or check its spelling"
            raise ValidationError(
                f"{SETTING}: unknown Beam option {flag} for the local runner; {hint}"
            )
        standard.runner = LOCAL_ENGINE
    return options


def _types_mapper(arrow_type: Any) -> Any:
    """Nullable pandas dtypes, so every slice of a column has one type whatever its nulls."""
    import pandas as pd

    if pa.types.is_integer(arrow_type):
        return pd.Int64Dtype()
    if pa.types.is_boolean(arrow_type):
        return pd.BooleanDtype()
    return None


def _frame(table: Any, excluded: list[str], timestamp_column: str | None) -> tuple[Any, list[str]]:
    frame = table_to_frame(table, types_mapper=_types_mapper)
    frame = frame.drop(columns=[c for c in frame.columns if c in excluded])
    return prepare_frame(frame, timestamp_column)


def _record_batches(table: Any, excluded: list[str], timestamp_column: str | None) -> Iterator[Any]:
    """One row group as TFDV's canonical batches of SLICE_ROWS rows, each built as
    generate_statistics_from_dataframe builds its one batch.

    Each batch owns its memory: a pickled Arrow slice would carry the whole row group's
    buffers with it to the next worker.
    """
    for start in range(0, table.num_rows, SLICE_ROWS):
        frame, _ = _frame(table.slice(start, SLICE_ROWS), excluded, timestamp_column)
        kept = [
            name
            for name, dtype in zip(frame.columns, frame.dtypes, strict=True)
            if table_util.NumpyKindToArrowType(dtype.kind)
        ]
        batch = pa.RecordBatch.from_pandas(frame[kept], preserve_index=False)
        yield table_util.CanonicalizeRecordBatch(batch)


def _layout(path: str, excluded: list[str], timestamp_column: str | None) -> tuple[list[str], Any]:
    """From the file's schema alone: the columns made into seconds, and the boolean ones."""
    frame, converted = _frame(pq.read_schema(path).empty_table(), excluded, timestamp_column)
    booleans = [
        name for name, dtype in zip(frame.columns, frame.dtypes, strict=True) if dtype.kind == "b"
    ]
    return converted, booleans


def _stats_options(booleans: list[str]) -> Any:
    """Booleans are categorical integers, as in generate_statistics_from_dataframe."""
    if not booleans:
        return tfdv.StatsOptions()
    schema = schema_pb2.Schema()
    for name in booleans:
        schema.feature.add(name=name, type=schema_pb2.INT, bool_domain=schema_pb2.BoolDomain())
    return tfdv.StatsOptions(schema=schema)


def compute(
    request: dict[str, Any], out_dir: Path, schema_known: bool
) -> tuple[dict[str, Any], Any, dict[str, int], list[str]]:
    """Run one Beam pipeline for both splits (and their union when a schema is inferred).

    Returns what tfdv_worker's in-memory path returns: statistics per split, the joint
    statistics or None, rows per split and the columns turned from times into seconds.
    """
    options = pipeline_options([str(flag) for flag in request["beam_options"]])
    excluded = list(request.get("exclude_columns") or [])
    timestamp_column = request.get("timestamp_column")
    converted: list[str] = []
    booleans: set[str] = set()
    for split in SPLITS:
        names, flags = _layout(request[f"{split}_path"], excluded, timestamp_column)
        converted += [n for n in names if n not in converted]
        booleans.update(flags)
    stats_options = _stats_options(sorted(booleans))
    outputs = {split: out_dir / STATS_FILE.format(split=split) for split in SPLITS}
    joint = out_dir / JOINT_STATS_FILE
    try:
        with beam.Pipeline(options=options) as pipeline:
            batches = []
            for split in SPLITS:
                batch = (
                    pipeline
                    | f"Read {split}" >> beam.io.ReadFromParquetBatched(request[f"{split}_path"])
                    | f"Prepare {split}"
                    >> beam.FlatMap(_record_batches, excluded, timestamp_column)
                    | f"Spread {split}" >> beam.Reshuffle()
                )
                _ = (
                    batch
                    | f"Statistics {split}" >> tfdv.GenerateStatistics(stats_options)
                    | f"Write {split}" >> tfdv.WriteStatisticsToBinaryFile(str(outputs[split]))
                )
                batches.append(batch)
            if not schema_known:
                _ = (
                    tuple(batches)
                    | "Both splits" >> beam.Flatten()
                    | "Statistics both" >> tfdv.GenerateStatistics(stats_options)
                    | "Write both" >> tfdv.WriteStatisticsToBinaryFile(str(joint))
                )
    except ValidationError:
        raise
    except Exception as exc:
        detail = " ".join(str(exc).split())[:300]
        raise ValidationError(
            f"Beam pipeline for statistics failed ({type(exc).__name__}: {detail}); check {SETTING}"
        ) from exc
    stats = {split: tfdv.load_stats_binary(str(path)) for split, path in outputs.items()}
    both = None
    if not schema_known:
        both = tfdv.load_stats_binary(str(joint))
        joint.unlink(missing_ok=True)
    rows = {split: _num_examples(stats[split]) for split in SPLITS}
    return stats, both, rows, converted


def _num_examples(stats: Any) -> int:
    return int(stats.datasets[0].num_examples) if stats.datasets else 0
