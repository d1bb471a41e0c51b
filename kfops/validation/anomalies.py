"""Turn TFDV's anomalies into short findings and one readable error line.

Pure functions over the JSON form of ``tensorflow_metadata``'s ``Anomalies`` proto (as
``json_format.MessageToDict`` writes it, camelCase, or with proto field names), so they
run and are tested in the main environment, where TFDV does not install.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any


class AnomalyKind(StrEnum):
    MISSING_COLUMN = "missing_column"
    NEW_COLUMN = "new_column"
    WRONG_TYPE = "wrong_type"
    UNEXPECTED_VALUES = "unexpected_values"
    MISSING_VALUES = "missing_values"
    OUT_OF_RANGE = "out_of_range"
    DRIFT = "drift"
    TOO_FEW_ROWS = "too_few_rows"
    OTHER = "other"


@dataclass(frozen=True)
class Anomaly:
    """One problem with one column (``column`` is None for the dataset as a whole)."""

    column: str | None
    kind: AnomalyKind
    description: str
    split: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["kind"] = str(self.kind)
        return out


# TFDV's AnomalyInfo.Type names, grouped; any name not listed becomes OTHER.
_KIND_BY_TYPE: dict[str, AnomalyKind] = {
    "SCHEMA_MISSING_COLUMN": AnomalyKind.MISSING_COLUMN,
    "SCHEMA_NEW_COLUMN": AnomalyKind.NEW_COLUMN,
    "UNEXPECTED_DATA_TYPE": AnomalyKind.WRONG_TYPE,
    "INT_TYPE_NOT_INT_STRING": AnomalyKind.WRONG_TYPE,
    "FLOAT_TYPE_NOT_FLOAT_STRING": AnomalyKind.WRONG_TYPE,
    "ENUM_TYPE_UNEXPECTED_STRING_VALUES": AnomalyKind.UNEXPECTED_VALUES,
    "ENUM_TYPE_BYTES_NOT_STRING": AnomalyKind.UNEXPECTED_VALUES,
    "ENUM_TYPE_INVALID_UTF8": AnomalyKind.UNEXPECTED_VALUES,
    "FEATURE_TYPE_LOW_FRACTION_PRESENT": AnomalyKind.MISSING_VALUES,
    "FEATURE_TYPE_LOW_NUMBER_PRESENT": AnomalyKind.MISSING_VALUES,
    "FEATURE_TYPE_NOT_PRESENT": AnomalyKind.MISSING_VALUES,
    "INT_TYPE_SMALL_INT": AnomalyKind.OUT_OF_RANGE,
    "INT_TYPE_BIG_INT": AnomalyKind.OUT_OF_RANGE,
    "FLOAT_TYPE_SMALL_FLOAT": AnomalyKind.OUT_OF_RANGE,
    "FLOAT_TYPE_BIG_FLOAT": AnomalyKind.OUT_OF_RANGE,
    "FLOAT_TYPE_HAS_NAN": AnomalyKind.OUT_OF_RANGE,
    "COMPARATOR_L_INFTY_HIGH": AnomalyKind.DRIFT,
    "COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH": AnomalyKind.DRIFT,
    "COMPARATOR_NORMALIZED_ABSOLUTE_DIFFERENCE_HIGH": AnomalyKind.DRIFT,
    "DATASET_LOW_NUM_EXAMPLES": AnomalyKind.TOO_FEW_ROWS,
}
_UNEXPECTED_PREFIX = "Examples contain values missing from the schema:"
# "lifetime (<1%), weekly (~5%). " -> ["lifetime", "weekly"]
_VALUE_WITH_SHARE = re.compile(r"\s*(.+?) \([<>~]?\d+%\)(?:,|\.|$)")
_TYPE_MISMATCH = re.compile(r"Expected data of type:\s*(\w+) but got (\w+)")
_SUCH_AS = re.compile(r'such as "(.*)"')
_NOT_PARSED = {"INT_TYPE_NOT_INT_STRING": "integers", "FLOAT_TYPE_NOT_FLOAT_STRING": "numbers"}
_PRESENCE = re.compile(r"minimum fraction = ([\d.]+), actual = ([\d.]+)")
_NUMBER = r"(\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)"
_DISTANCE = re.compile(
    rf"is {_NUMBER} \(up to six significant digits\), above the threshold {_NUMBER}"
)
_MEASURE_BY_TYPE = {
    "COMPARATOR_L_INFTY_HIGH": "L-infinity distance",
    "COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH": "Jensen-Shannon divergence",
    "COMPARATOR_NORMALIZED_ABSOLUTE_DIFFERENCE_HIGH": "normalized absolute difference",
}
_SHOWN_VALUES = 5


def _get(mapping: Mapping[str, Any], camel: str, snake: str, default: Any = None) -> Any:
    return mapping.get(camel, mapping.get(snake, default))


def _flatten(text: str) -> str:
    """Every line of a TFDV text joined into one (its descriptions wrap mid-sentence), unlike
    ``kfops.errors.one_line``, which quotes only an error's first line."""
    return " ".join(text.split())


def _percent(fraction: str) -> str:
    return f"{float(fraction) * 100:.4g}%"


def describe(reason_type: str, description: str, short: str = "") -> str:
    """The phrase that follows ``column 'x':`` in the error line, from one TFDV reason."""
    description = _flatten(description)
    kind = _KIND_BY_TYPE.get(reason_type, AnomalyKind.OTHER)
    if kind is AnomalyKind.MISSING_COLUMN:
        return "missing"
    if kind is AnomalyKind.NEW_COLUMN:
        return "not in the schema"
    if reason_type == "ENUM_TYPE_UNEXPECTED_STRING_VALUES" and _UNEXPECTED_PREFIX in description:
        listed = description.split(_UNEXPECTED_PREFIX, 1)[1]
        values = _VALUE_WITH_SHARE.findall(listed) or [listed.strip()]
        shown = ", ".join(repr(v) for v in values[:_SHOWN_VALUES])
        more = f" and {len(values) - _SHOWN_VALUES} more" if len(values) > _SHOWN_VALUES else ""
        return f"unexpected string values ({shown}{more})"
    if reason_type in _NOT_PARSED:
        example = _SUCH_AS.search(description)
        shown = f" (e.g. {example.group(1)!r})" if example else ""
        return f"strings that are not {_NOT_PARSED[reason_type]}{shown}"
    if match := _TYPE_MISMATCH.search(description):
        return f"expected {match.group(1)} values, got {match.group(2)}"
    if kind is AnomalyKind.MISSING_VALUES and (match := _PRESENCE.search(description)):
        need, got = match.groups()
        return f"present in {_percent(got)} of rows, the schema requires {_percent(need)}"
    if kind is AnomalyKind.DRIFT and (match := _DISTANCE.search(description)):
        measure = _MEASURE_BY_TYPE.get(reason_type, "distance")
        return f"drift from train: {measure} {match.group(1)} above threshold {match.group(2)}"
    short = _flatten(short)
    if short and description and short != description:
        return f"{short[0].lower()}{short[1:]} ({description.rstrip('. ')})"
    text = description or short
    if not text:
        return reason_type.lower().replace("_", " ") or "unknown problem"
    return text[0].lower() + text[1:]


def _column_name(key: str, info: Mapping[str, Any]) -> str:
    steps = _get(info.get("path") or {}, "step", "step") or []
    return ".".join(steps) if steps else key


def _from_info(column: str | None, info: Mapping[str, Any], split: str | None) -> list[Anomaly]:
    reasons = info.get("reason") or []
    if not reasons:
        reasons = [
            {
                "type": info.get("type", ""),
                "description": info.get("description", ""),
                "shortDescription": _get(info, "shortDescription", "short_description", ""),
            }
        ]
    found = []
    for reason in reasons:
        reason_type = str(reason.get("type", ""))
        found.append(
            Anomaly(
                column=column,
                kind=_KIND_BY_TYPE.get(reason_type, AnomalyKind.OTHER),
                description=describe(
                    reason_type,
                    str(reason.get("description", "")),
                    str(_get(reason, "shortDescription", "short_description", "")),
                ),
                split=split,
            )
        )
    return found


def parse_anomalies(raw: Mapping[str, Any], split: str | None = None) -> list[Anomaly]:
    """List the findings in one ``Anomalies`` message, one per TFDV reason.

    Args:
        raw: The anomalies as a dict (``MessageToDict``), with or without ``baseline``.
        split: The split the statistics came from, e.g. ``"test"``; kept on each finding.
    """
    found: list[Anomaly] = []
    for key, info in (_get(raw, "anomalyInfo", "anomaly_info") or {}).items():
        found.extend(_from_info(_column_name(key, info), info, split))
    dataset = _get(raw, "datasetAnomalyInfo", "dataset_anomaly_info")
    if dataset:
        found.extend(_from_info(None, dataset, split))
    return found


def row_count_anomalies(rows: Mapping[str, int], min_rows: int) -> list[Anomaly]:
    """Check ``validation.min_rows`` against all rows, and that no split is empty.

    ``min_rows`` counts train and test together (it bounds the dataset, before the split):
    with min_rows=20, 16 train + 4 test rows pass and 12 + 3 fail.
    """
    found = [
        Anomaly(None, AnomalyKind.TOO_FEW_ROWS, f"{split} split has no rows", split)
        for split, count in rows.items()
        if count == 0
    ]
    total = sum(rows.values())
    if total < min_rows:
        found.append(
            Anomaly(
                None,
                AnomalyKind.TOO_FEW_ROWS,
                f"only {total} rows in all splits, fewer than validation.min_rows ({min_rows})",
            )
        )
    return found


def _split_label(splits: list[str]) -> str:
    if not splits:
        return ""
    noun = "splits" if len(splits) > 1 else "split"
    return f" ({' and '.join(splits)} {noun})"


def _items(anomalies: list[Anomaly], splits: list[str]) -> list[str]:
    """Group findings by column, in first-seen order; mark those not seen in every split."""
    seen: dict[tuple[str | None, str], list[str]] = {}
    for anomaly in anomalies:
        where = seen.setdefault((anomaly.column, anomaly.description), [])
        if anomaly.split and anomaly.split not in where:
            where.append(anomaly.split)
    by_column: dict[str | None, list[str]] = {}
    for (column, description), where in seen.items():
        if len(splits) > 1 and where and len(where) < len(splits):
            description = f"{description} ({', '.join(where)} only)"
        by_column.setdefault(column, []).append(description)
    items = []
    for column, descriptions in by_column.items():
        if column is None:
            items.extend(descriptions)
        elif descriptions == ["missing"]:
            items.append(f"column '{column}' missing")
        else:
            items.append(f"column '{column}': {', '.join(descriptions)}")
    return items


def _fixes(anomalies: Iterable[Anomaly], schema_path: str, schema_inferred: bool) -> str:
    kinds = {a.kind for a in anomalies}
    fixes = []
    if kinds - {AnomalyKind.DRIFT, AnomalyKind.TOO_FEW_ROWS}:
        if schema_inferred:
            fixes.append(
                "fix the data or the validation settings (the inferred schema was not saved; "
                f"its copy is at {schema_path})"
            )
        else:
            fixes.append(f"fix the data or update the schema at {schema_path}")
    if AnomalyKind.DRIFT in kinds:
        fixes.append("check how the data was split or raise validation.drift_threshold")
    if AnomalyKind.TOO_FEW_ROWS in kinds:
        fixes.append("add rows or lower validation.min_rows")
    return "; ".join(fixes)


def format_failure(
    project: str, anomalies: list[Anomaly], schema_path: str, schema_inferred: bool = False
) -> str:
    """One line naming every column and its problems, then the fix.

    Example: ``validation failed for churn (test split): column 'contract': unexpected
    string values ('lifetime'); column 'age' missing — fix the data or update the schema
    at schema/schema.pbtxt``. ``schema_inferred`` says the schema was inferred on this
    run and, the data failing, not saved: ``schema_path`` is then its copy in the output.
    """
    splits: list[str] = []
    for anomaly in anomalies:
        if anomaly.split and anomaly.split not in splits:
            splits.append(anomaly.split)
    items = "; ".join(_items(anomalies, splits))
    fixes = _fixes(anomalies, schema_path, schema_inferred)
    return _flatten(f"validation failed for {project}{_split_label(splits)}: {items} — {fixes}")
