"""The TFDV work: statistics, schema, anomalies. Runs wherever TFDV imports.

Run in the TFDV runtime as ``python -m kfops.validation.tfdv_worker [REQUEST.json]``
(request on stdin when no file is given); the result is one JSON line on stdout. With
``--serve`` it answers one request per stdin line until stdin closes, paying TFDV's
import once (runtime.worker_session); with ``--listen-fd N`` one request per connection
on a listening socket, TFDV imported before any arrives (runtime.WarmTFDV). In the main process, ``run(request)`` does the
same work when TFDV is importable there.

Imports only the standard library, the TFDV runtime's libraries and ``kfops.errors``:
this file must keep working under pandas 1.5, numpy 1.26, pyarrow 10 and protobuf 4.

Timestamps become integer seconds since the epoch (UTC) before TFDV sees them: TFDV
silently drops datetime columns, and integers keep their range in the statistics
without ever growing a string domain.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import sys
import traceback
from pathlib import Path
from typing import Any

from kfops.errors import DataError, KfopsError, ValidationError, one_line

SPLITS = ("train", "test")
SCHEMA_COPY = "schema.pbtxt"
FACETS_HTML = "statistics_facets.html"
STATS_FILE = "{split}_stats.pb"
# Large, per-value parts of the statistics that the HTML page does not use.
_DROPPED_STATS = ("rankHistogram", "numValuesHistogram", "featureListLengthHistogram")


def _first_line(exc: BaseException) -> str:
    """The error's class and first line (``KeyError: 'age'``), or its class alone."""
    detail, name = one_line(exc), type(exc).__name__
    return name if detail == name else f"{name}: {detail}"


def read_split(path: str, split: str) -> Any:
    """Read one split's Parquet file into pandas (whatever pandas and pyarrow wrote it)."""
    import pyarrow.parquet as pq

    if not Path(path).is_file():
        raise DataError(f"{split} split: {path} does not exist; run the split step first")
    try:
        table = pq.read_table(path)
    except Exception as exc:
        raise DataError(
            f"{split} split: {path} is not a readable Parquet file ({_first_line(exc)}); "
            "write it with pandas.DataFrame.to_parquet"
        ) from exc
    return table_to_frame(table)


def table_to_frame(table: Any, types_mapper: Any = None) -> Any:
    """An Arrow table as a pandas frame with string column names.

    ``types_mapper`` is pyarrow's hook for choosing pandas dtypes per Arrow type.
    """
    try:
        frame = table.to_pandas(types_mapper=types_mapper)
    except Exception:
        # pandas metadata from a newer pandas (e.g. its 'str' dtype) that 1.5 cannot read.
        frame = table.to_pandas(ignore_metadata=True, types_mapper=types_mapper)
        frame = frame.drop(
            columns=[c for c in frame.columns if str(c).startswith("__index_level_")]
        )
    frame.columns = [str(c) for c in frame.columns]
    return frame


def _text(value: Any) -> str | None:
    import pandas as pd

    if value is None or (not isinstance(value, str | bytes) and pd.isna(value)):
        return None
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return value if isinstance(value, str) else str(value)


def prepare_frame(frame: Any, timestamp_column: str | None = None) -> tuple[Any, list[str]]:
    """Make every column one TFDV understands; return the frame and the columns converted.

    Datetimes (and the timestamp column when it is text) become epoch seconds, e.g.
    2025-01-01T01:01:47Z -> 1735693307; missing or unparsable ones stay missing.
    Timedeltas become float seconds; categoricals and mixed objects become strings.
    """
    import pandas as pd
    from pandas.api import types

    frame = frame.copy()
    converted = []
    for name in frame.columns:
        series = frame[name]
        is_text = types.is_object_dtype(series) or types.is_string_dtype(series)
        if name == timestamp_column and is_text:
            series = pd.to_datetime(series, utc=True, errors="coerce")
        if types.is_datetime64_any_dtype(series):
            if getattr(series.dt, "tz", None) is not None:
                series = series.dt.tz_convert("UTC").dt.tz_localize(None)
            seconds = (series - pd.Timestamp(0)) // pd.Timedelta(seconds=1)
            frame[name] = seconds.astype("Int64")
            converted.append(name)
        elif types.is_timedelta64_dtype(series):
            frame[name] = series.dt.total_seconds()
        elif (
            isinstance(series.dtype, pd.CategoricalDtype)
            or types.is_object_dtype(series)
            or types.is_string_dtype(series)
        ):
            frame[name] = series.astype(object).map(_text).astype(object)
    return frame, converted


def _strip_domain(schema: Any, feature: Any) -> None:
    """Remove a feature's domain and distribution constraints (ids, timestamps)."""
    if feature.WhichOneof("domain_info") == "domain":
        name = feature.domain
        feature.ClearField("domain_info")
        if not any(f.domain == name for f in schema.feature):
            kept = [d for d in schema.string_domain if d.name != name]
            del schema.string_domain[:]
            schema.string_domain.extend(kept)
    else:
        feature.ClearField("domain_info")
    feature.ClearField("distribution_constraints")
    feature.ClearField("drift_comparator")


def _has_string_domain(feature: Any) -> bool:
    return feature.WhichOneof("domain_info") in ("domain", "string_domain")


def apply_inference_settings(
    schema: Any,
    id_columns: list[str],
    min_domain_mass: float,
    max_missing_fraction: float | None,
) -> None:
    """Turn the validation settings into schema constraints, on a freshly inferred schema.

    ``max_missing_fraction`` 0.05 -> ``presence.min_fraction`` 0.95: a column present in
    96% of rows passes, one present in 94% fails. A column with missing values cannot
    keep a fixed ``shape``, so it gets ``value_count {min: 1 max: 1}`` instead.
    """
    from tensorflow_metadata.proto.v0 import schema_pb2

    for feature in schema.feature:
        if feature.name in id_columns:
            _strip_domain(schema, feature)
        elif feature.type == schema_pb2.BYTES and _has_string_domain(feature):
            feature.distribution_constraints.min_domain_mass = min_domain_mass
        if max_missing_fraction is not None:
            feature.presence.min_fraction = 1.0 - max_missing_fraction
            if max_missing_fraction > 0 and feature.HasField("shape"):
                feature.value_count.min = 1
                feature.value_count.max = 1


def add_drift_comparators(schema: Any, threshold: float, id_columns: list[str]) -> None:
    """Compare test against train, unless the schema already sets a comparator.

    Strings use the L-infinity distance: the largest gap in a value's share, e.g.
    month-to-month at 55% in train and 45% in test gives 0.10. Numbers use the
    Jensen-Shannon divergence of their histograms (0 = same, 1 = disjoint).
    """
    from tensorflow_metadata.proto.v0 import schema_pb2

    for feature in schema.feature:
        if feature.name in id_columns or feature.HasField("drift_comparator"):
            continue
        if feature.type == schema_pb2.BYTES:
            feature.drift_comparator.infinity_norm.threshold = threshold
        elif feature.type in (schema_pb2.INT, schema_pb2.FLOAT):
            feature.drift_comparator.jensen_shannon_divergence.threshold = threshold


def load_schema(path: Path) -> Any:
    import tensorflow_data_validation as tfdv

    try:
        return tfdv.load_schema_text(str(path))
    except Exception as exc:
        raise ValidationError(
            f"schema {path} is not a valid TFDV schema ({_first_line(exc)}); "
            "fix it, or delete it to infer a new one"
        ) from exc


def _anomalies_dict(anomalies: Any) -> dict[str, Any]:
    from google.protobuf import json_format

    raw = json_format.MessageToDict(anomalies)
    raw.pop("baseline", None)
    return raw


def _stats_dict(stats: Any) -> dict[str, Any]:
    from google.protobuf import json_format

    raw = json_format.MessageToDict(stats)
    for dataset in raw.get("datasets", []):
        for feature in dataset.get("features", []):
            for part in ("numStats", "stringStats"):
                block = feature.get(part, {})
                for key in _DROPPED_STATS:
                    block.pop(key, None)
                    block.get("commonStats", {}).pop(key, None)
    return raw


def _facets_html(train: Any, test: Any) -> str:
    from tensorflow_data_validation.utils import display_util

    return display_util.get_statistics_html(train, test, lhs_name="train", rhs_name="test")


def _read_splits(request: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Both splits as TFDV-ready frames, and the columns turned from times into seconds."""
    excluded = set(request.get("exclude_columns") or [])
    frames: dict[str, Any] = {}
    converted: list[str] = []
    for split in SPLITS:
        frame = read_split(request[f"{split}_path"], split)
        frame = frame.drop(columns=[c for c in frame.columns if c in excluded])
        frames[split], names = prepare_frame(frame, request.get("timestamp_column"))
        converted += [n for n in names if n not in converted]
    return frames, converted


def _frame_statistics(
    tfdv: Any, request: dict[str, Any], schema_known: bool
) -> tuple[dict[str, Any], Any, dict[str, int], list[str]]:
    """Statistics per split from in-memory frames, and of both together when no schema exists.

    Returns the split statistics, the joint ones (or None), rows per split and the
    columns turned from times into seconds.
    """
    import pandas as pd

    frames, converted = _read_splits(request)
    stats = {split: tfdv.generate_statistics_from_dataframe(frames[split]) for split in SPLITS}
    both = None
    if not schema_known:
        joined, _ = prepare_frame(pd.concat(list(frames.values()), ignore_index=True))
        both = tfdv.generate_statistics_from_dataframe(joined)
    rows = {split: int(len(frames[split])) for split in SPLITS}
    return stats, both, rows, converted


def _resolve_schema(
    tfdv: Any, request: dict[str, Any], both_stats: Any, copy: Path
) -> tuple[Any, bool]:
    """Load the schema, or infer one from both splits' joint statistics; copy it to ``copy``."""
    schema_path = Path(request["schema_path"])
    if schema_path.is_file():
        schema = load_schema(schema_path)
        if schema_path.resolve() != copy.resolve():
            shutil.copyfile(schema_path, copy)
        return schema, False
    schema = tfdv.infer_schema(both_stats)
    apply_inference_settings(
        schema,
        list(request.get("id_columns") or []),
        float(request["min_domain_mass"]),
        request.get("max_missing_fraction"),
    )
    tfdv.write_schema_text(schema, str(copy))
    return schema, True


def _schema_to_check(schema: Any, id_columns: list[str], drift: float | None) -> Any:
    """A copy of the schema as checked: id columns without domains, drift comparators added."""
    checked = type(schema)()
    checked.CopyFrom(schema)
    for feature in checked.feature:
        if feature.name in id_columns:
            _strip_domain(checked, feature)
    if drift is not None:
        add_drift_comparators(checked, float(drift), id_columns)
    return checked


def run(request: dict[str, Any]) -> dict[str, Any]:
    """Compute statistics, resolve the schema, validate both splits; write the files.

    Request keys: ``train_path``, ``test_path``, ``schema_path`` (read when it exists,
    else a schema is inferred from both splits together; never written here),
    ``out_dir``, ``exclude_columns``, ``id_columns`` (no domains, no drift),
    ``timestamp_column``, ``min_domain_mass``, ``max_missing_fraction``,
    ``drift_threshold``, ``beam_options`` (Beam flags: statistics come from a Beam
    pipeline on those options instead of in-memory frames, see beam_statistics).

    Returns plain JSON values: file paths, row counts, the anomalies per split (as
    ``MessageToDict`` gives them) and the statistics for the HTML page.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    # Its import warns on stderr that IPython is missing; IPython is not needed here.
    with contextlib.redirect_stderr(io.StringIO()):
        import tensorflow_data_validation as tfdv

    out_dir = Path(request["out_dir"])
    out_dir.mkdir(parents=True, exist_ok=True)
    schema_known = Path(request["schema_path"]).is_file()
    if request.get("beam_options"):
        from kfops.validation import beam_statistics

        stats, both, rows, converted = beam_statistics.compute(request, out_dir, schema_known)
    else:
        stats, both, rows, converted = _frame_statistics(tfdv, request, schema_known)
    schema, inferred = _resolve_schema(tfdv, request, both, out_dir / SCHEMA_COPY)

    drift = request.get("drift_threshold")
    checked = _schema_to_check(schema, list(request.get("id_columns") or []), drift)
    anomalies = {
        "train": tfdv.validate_statistics(stats["train"], checked),
        "test": tfdv.validate_statistics(
            stats["test"], checked, previous_statistics=stats["train"] if drift else None
        ),
    }

    paths = {split: out_dir / STATS_FILE.format(split=split) for split in SPLITS}
    for split, path in paths.items():
        path.write_bytes(stats[split].SerializeToString())
    facets = out_dir / FACETS_HTML
    facets.write_text(_facets_html(stats["train"], stats["test"]))
    datasets = stats["train"].datasets
    return {
        "rows": rows,
        "num_features": len(datasets[0].features) if datasets else 0,
        "schema_inferred": inferred,
        "schema_copy": str(out_dir / SCHEMA_COPY),
        "statistics": {split: str(path) for split, path in paths.items()},
        "facets_html": str(facets),
        "anomalies": {split: _anomalies_dict(anomalies[split]) for split in SPLITS},
        "stats": {split: _stats_dict(stats[split]) for split in SPLITS},
        "timestamp_columns": converted,
        "tfdv_version": tfdv.__version__,
    }


def answer(text: str) -> tuple[dict[str, Any], int]:
    """Run one JSON request; return the payload to print and the exit code."""
    try:
        return {"ok": True, "result": run(json.loads(text))}, 0
    except KfopsError as exc:
        return {"ok": False, "error": {"type": type(exc).__name__, "message": str(exc)}}, 1
    except Exception as exc:
        traceback.print_exc()
        message = f"TFDV worker failed: {_first_line(exc)}"
        return {"ok": False, "error": {"type": "ValidationError", "message": message}}, 2


def _answer_captured(line: str) -> dict[str, Any]:
    """One request with everything written to fd 1 and 2 meanwhile kept as its log."""
    import tempfile

    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 1)
        os.dup2(captured.fileno(), 2)
        try:
            payload, _ = answer(line)
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)
        captured.seek(0)
        log = captured.read().decode("utf-8", errors="replace")
    return {"answer": payload, "log": log}


def listen(fd: int) -> None:
    """Answer requests on the listening Unix socket ``fd``, one connection at a time (a
    JSON line in, ``{"answer": ..., "log": ...}`` out), TFDV imported before the first.

    The socket is bound by whoever starts the server (runtime.WarmTFDV), so a request
    sent while TensorFlow is still importing waits in the backlog instead of failing.
    """
    import socket

    listener = socket.socket(fileno=fd)
    with contextlib.redirect_stdout(sys.stderr):
        import tensorflow_data_validation  # noqa: F401 - the import this server exists for
    while True:
        connection, _ = listener.accept()
        with connection, connection.makefile("rwb") as stream:
            line = stream.readline().decode("utf-8", errors="replace")
            if line.strip():
                reply = _answer_captured(line)
                stream.write(json.dumps(reply).encode() + b"\n")
                stream.flush()


def main(argv: list[str] | None = None) -> int:
    """Answer one request (a file, or stdin), or with ``--serve`` one per stdin line.

    Answers are single JSON lines on the real stdout; anything the libraries print while
    working is sent to stderr instead, so it can never corrupt an answer.
    """
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["--listen-fd"]:
        listen(int(args[1]))
        return 0
    sys.stdout.flush()
    saved, real_stdout = os.dup(1), sys.stdout
    answers = os.fdopen(os.dup(saved), "w")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    code = 0
    try:
        if args[:1] == ["--serve"]:
            for line in sys.stdin:
                if line.strip():
                    payload, _ = answer(line)
                    sys.stdout.flush()
                    answers.write(json.dumps(payload) + "\n")
                    answers.flush()
        else:
            payload, code = answer(Path(args[0]).read_text() if args else sys.stdin.read())
            sys.stdout.flush()
            answers.write(json.dumps(payload) + "\n")
    finally:
        answers.close()
        sys.stdout.flush()
        sys.stdout = real_stdout
        os.dup2(saved, 1)
        os.close(saved)
    return code


if __name__ == "__main__":
    sys.exit(main())
