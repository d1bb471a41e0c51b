"""The TFDV part of the drift check: statistics of the windows and TFDV's comparators.

Runs in the TFDV runtime (``python -m kfops.drift.tfdv_worker``: a JSON request on stdin,
one JSON line on stdout) or in-process where TFDV imports. Like the validation worker it
imports only the standard library, TFDV's libraries and kfops' own runtime-safe modules.

The distances are TFDV's own: each feature gets a ``skew_comparator`` and a
``drift_comparator`` in a copy of the training schema (``jensen_shannon_divergence`` for
INT/FLOAT, ``infinity_norm`` for BYTES), and ``validate_statistics`` reports the measured
value of every compared feature in the anomalies' ``drift_skew_info``.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
from pathlib import Path
from typing import Any

from kfops.errors import DataError, KfopsError, ValidationError
from kfops.validation.tfdv_worker import prepare_frame, read_split

CURRENT_STATS = "served_stats.pb"
FACETS_HTML = "training_vs_served.html"
NUMERIC, CATEGORICAL, DISCRETE = "numeric", "categorical", "discrete"
DISCRETE_RANGE = 10  # an INT feature whose training values span fewer integers is discrete
_MEASURES = {"JENSEN_SHANNON_DIVERGENCE": NUMERIC, "L_INFTY": CATEGORICAL}


def _import_tfdv() -> Any:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with contextlib.redirect_stderr(io.StringIO()):  # "IPython is missing": not needed here
        import tensorflow_data_validation as tfdv
    return tfdv


def _load_reference(tfdv: Any, request: dict[str, Any]) -> tuple[Any, Any]:
    """The training statistics and schema (inferred from them when none was stored)."""
    stats_path = Path(request["training_statistics"])
    try:
        stats = tfdv.load_stats_binary(str(stats_path))
    except Exception as exc:
        raise ValidationError(
            f"{stats_path} is not TFDV statistics ({type(exc).__name__}); "
            "retrain the model so its run stores statistics/train_stats.pb"
        ) from exc
    schema_path = request.get("training_schema")
    if schema_path and Path(schema_path).is_file():
        return stats, tfdv.load_schema_text(str(schema_path))
    return stats, tfdv.infer_schema(stats)


def _comparison_schema(schema: Any, thresholds: dict[str, float]) -> tuple[Any, dict[str, str]]:
    """Only the compared features, each with a skew and a drift comparator at its threshold."""
    from tensorflow_metadata.proto.v0 import schema_pb2

    checked = schema_pb2.Schema()
    kinds: dict[str, str] = {}
    for feature in schema.feature:
        if feature.name not in thresholds:
            continue
        copy = checked.feature.add()
        copy.name, copy.type = feature.name, feature.type
        limit = thresholds[feature.name]
        if feature.type == schema_pb2.BYTES:
            copy.skew_comparator.infinity_norm.threshold = limit
            copy.drift_comparator.infinity_norm.threshold = limit
            kinds[feature.name] = CATEGORICAL
        elif feature.type in (schema_pb2.INT, schema_pb2.FLOAT):
            copy.skew_comparator.jensen_shannon_divergence.threshold = limit
            copy.drift_comparator.jensen_shannon_divergence.threshold = limit
            kinds[feature.name] = NUMERIC
    return checked, kinds


def _check_logged(schema: Any, request: dict[str, Any]) -> list[str]:
    """Every logged column must be a feature the model was trained on; return those not logged."""
    known = [feature.name for feature in schema.feature]
    for name in request.get("logged") or []:
        if name not in known:
            raise DataError(
                f"inference log {request.get('source')}: column 'feature.{name}' is not a "
                f"feature of {request.get('model')} (trained on {', '.join(known)}); check "
                "the log belongs to this model (--model) or retrain it with that column"
            )
    return [name for name in known if name not in (request.get("logged") or [])]


def _statistics(tfdv: Any, path: str, label: str, schema: Any) -> tuple[Any, Any]:
    """TFDV statistics of one window's Parquet file; strings stay strings, numbers numbers."""
    from tensorflow_metadata.proto.v0 import schema_pb2

    frame, _ = prepare_frame(read_split(path, label))
    for feature in schema.feature:
        if feature.name in frame.columns and feature.type == schema_pb2.BYTES:
            column = frame[feature.name]
            frame[feature.name] = column.where(column.isna(), column.astype(str))
    return tfdv.generate_statistics_from_dataframe(frame), frame


def _measurements(anomalies: Any, field: str) -> dict[str, dict[str, float]]:
    """Feature -> {distance, threshold} from the anomalies' drift_skew_info."""
    from tensorflow_metadata.proto.v0 import anomalies_pb2

    measured: dict[str, dict[str, float]] = {}
    for info in anomalies.drift_skew_info:
        name = ".".join(info.path.step)
        for measurement in getattr(info, field):
            kind = anomalies_pb2.DriftSkewInfo.Measurement.Type.Name(measurement.type)
            if kind in _MEASURES:
                measured[name] = {"distance": measurement.value, "threshold": measurement.threshold}
    return measured


def _training_integers(training: Any, name: str) -> dict[int, float] | None:
    """Training mass per integer value of a small-range INT feature, else None.

    TFDV keeps only an equal-width histogram (10 buckets from min to max, counts from a
    sketch). Under 10 integers wide, a bucket is narrower than 1, so its midpoint rounds
    to the one value it holds (support_calls 0..6: [2.4, 3.0) -> 3).
    """
    from tensorflow_metadata.proto.v0 import statistics_pb2

    for feature in training.datasets[0].features:
        if ".".join(feature.path.step) != name or not feature.HasField("num_stats"):
            continue
        stats = feature.num_stats
        if stats.max - stats.min >= DISCRETE_RANGE:
            return None
        for histogram in stats.histograms:
            if histogram.type == statistics_pb2.Histogram.STANDARD:
                masses: dict[int, float] = {}
                for bucket in histogram.buckets:
                    value = round((bucket.low_value + bucket.high_value) / 2)
                    masses[value] = masses.get(value, 0.0) + bucket.sample_count
                return masses
    return None


def _counts(frame: Any, name: str) -> dict[int, float]:
    column = frame[name].dropna() if name in frame.columns else []
    return {int(round(v)): float(c) for v, c in column.value_counts().items()}


def jensen_shannon(p: dict[int, float], q: dict[int, float]) -> float:
    """JSD (base 2, so 0..1) of two count tables over their joint support, as TFDV defines it."""
    import math

    p_total, q_total = sum(p.values()), sum(q.values())
    if p_total <= 0 or q_total <= 0:
        return 0.0

    def part(share: float, middle: float) -> float:
        return share * math.log2(share / middle) if share > 0 else 0.0

    total = 0.0
    for key in set(p) | set(q):
        a, b = p.get(key, 0.0) / p_total, q.get(key, 0.0) / q_total
        m = (a + b) / 2
        total += (part(a, m) + part(b, m)) / 2
    return max(0.0, min(1.0, total))


def _discrete(
    training: Any,
    kinds: dict[str, str],
    frames: dict[str, Any],
    measured: dict[str, dict[str, dict[str, float]]],
) -> None:
    """Replace TFDV's histogram JSD of small-range INT features by the JSD over their values.

    TFDV re-buckets two equal-width histograms with different edges assuming values spread
    evenly in a bucket; integers do not, and traffic like the training data then measures
    0.2 (support_calls 0..6). The TFDV figure stays in the report as ``tfdv_distance``.
    """
    for name, kind in list(kinds.items()):
        reference = _training_integers(training, name) if kind == NUMERIC else None
        if reference is None:
            continue
        kinds[name] = DISCRETE
        pairs = {"skew": (reference, _counts(frames["current"], name))}
        if "previous" in frames:
            pairs["drift"] = (_counts(frames["previous"], name), _counts(frames["current"], name))
        for comparison, (before, after) in pairs.items():
            entry = measured[comparison].get(name)
            if entry is not None:
                entry["tfdv_distance"] = entry["distance"]
                entry["distance"] = jensen_shannon(before, after)


def run(request: dict[str, Any]) -> dict[str, Any]:
    """Compare the current window with training (skew) and with the previous window (drift).

    Request keys: ``current_path`` and ``previous_path`` (Parquet of feature columns; the
    previous one may be null), ``training_statistics`` (a ``.pb``), ``training_schema``
    (``.pbtxt`` or null), ``thresholds`` (feature -> threshold; only these are compared),
    ``out_dir`` (served statistics and TFDV's Facets page go there).
    """
    tfdv = _import_tfdv()
    out_dir = Path(request["out_dir"])
    out_dir.mkdir(parents=True, exist_ok=True)
    training, schema = _load_reference(tfdv, request)
    not_logged = _check_logged(schema, request)
    checked, kinds = _comparison_schema(schema, dict(request["thresholds"]))
    current, current_frame = _statistics(tfdv, request["current_path"], "current window", checked)
    frames = {"current": current_frame}
    skew = tfdv.validate_statistics(training, checked, serving_statistics=current)
    measured = {"skew": _measurements(skew, "skew_measurements"), "drift": {}}
    if request.get("previous_path"):
        previous, frames["previous"] = _statistics(
            tfdv, request["previous_path"], "previous window", checked
        )
        anomalies = tfdv.validate_statistics(current, checked, previous_statistics=previous)
        measured["drift"] = _measurements(anomalies, "drift_measurements")
    _discrete(training, kinds, frames, measured)
    (out_dir / CURRENT_STATS).write_bytes(current.SerializeToString())
    from tensorflow_data_validation.utils import display_util

    facets = display_util.get_statistics_html(
        training, current, lhs_name="training", rhs_name="served"
    )
    (out_dir / FACETS_HTML).write_text(facets)
    return {
        "rows": int(len(frames["current"])),
        "previous_rows": int(len(frames["previous"])) if "previous" in frames else 0,
        "kinds": kinds,
        "not_logged": not_logged,
        "skew": measured["skew"],
        "drift": measured["drift"],
        "served_statistics": str(out_dir / CURRENT_STATS),
        "facets_html": str(out_dir / FACETS_HTML),
        "tfdv_version": tfdv.__version__,
    }


def main() -> int:
    """Answer one request from stdin with one JSON line: ``{"ok": ..., "result"|"error"}``."""
    try:
        payload = {"ok": True, "result": run(json.loads(sys.stdin.read()))}
        code = 0
    except KfopsError as exc:
        payload = {"ok": False, "error": {"type": type(exc).__name__, "message": str(exc)}}
        code = 1
    sys.stdout.write("\n" + json.dumps(payload) + "\n")
    return code


if __name__ == "__main__":
    sys.exit(main())
