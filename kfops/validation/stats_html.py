"""A self-contained HTML page of TFDV statistics, train next to test.

TFDV's own Facets page (``display_util.get_statistics_html``, also written beside this
one) loads its viewer from cdnjs and GitHub, so it is blank offline and in locked-down
clusters. This page is built from the same statistics, in their ``MessageToDict`` form,
with inline CSS and SVG only. Pure: no TFDV, no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from html import escape
from typing import Any

from kfops.validation.anomalies import Anomaly

_TOP_VALUES = 5
_CHART_W, _CHART_H = 160, 36
_COLORS = {"train": "#1f6feb", "test": "#d9480f"}
_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#1b1f24}
h1{font-size:20px}h2{font-size:16px;margin-top:28px}
table{border-collapse:collapse;width:100%}
th,td{border-bottom:1px solid #d0d7de;padding:4px 8px;text-align:right;vertical-align:middle}
th{background:#f6f8fa}td.name,th.name,td.left{text-align:left}
tr.bad td.name{color:#cf222e;font-weight:600}
.split{font-weight:600}.ok{color:#1a7f37}.fail{color:#cf222e}
"""


def _num(value: Any, default: float = 0.0) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


def _fmt(value: Any) -> str:
    number = _num(value, float("nan"))
    if number != number:
        return "—"
    if number == int(number) and abs(number) < 1e15:
        return f"{int(number):,}"
    return f"{number:.4g}"


def _date(value: Any) -> str:
    """Epoch seconds as a UTC time: 1735693307 -> 2025-01-01 01:01:47."""
    try:
        return datetime.fromtimestamp(_num(value), UTC).strftime("%Y-%m-%d %H:%M:%S")
    except (OverflowError, OSError, ValueError):
        return _fmt(value)


def _days(value: Any) -> str:
    return f"{_num(value) / 86400:.4g} d"


def _features(stats: Mapping[str, Any]) -> tuple[int, dict[str, dict[str, Any]]]:
    datasets = stats.get("datasets") or [{}]
    dataset = datasets[0]
    features = {}
    for feature in dataset.get("features", []):
        steps = (feature.get("path") or {}).get("step") or []
        features[".".join(steps) or feature.get("name", "?")] = feature
    return int(_num(dataset.get("numExamples"))), features


def _is_numeric(feature: Mapping[str, Any]) -> bool:
    # MessageToDict leaves out enum defaults: no "type" means INT.
    return "stringStats" not in feature and feature.get("type", "INT") in ("INT", "FLOAT")


def _bars(heights: list[float], color: str) -> str:
    peak = max(heights, default=0.0) or 1.0
    width = _CHART_W / max(len(heights), 1)
    rects = "".join(
        f'<rect x="{i * width:.1f}" y="{_CHART_H * (1 - h / peak):.1f}" '
        f'width="{max(width - 1, 1):.1f}" height="{_CHART_H * h / peak:.1f}" fill="{color}"/>'
        for i, h in enumerate(heights)
    )
    return f'<svg width="{_CHART_W}" height="{_CHART_H}" role="img">{rects}</svg>'


def _histogram(num_stats: Mapping[str, Any], color: str, fmt: Callable[[Any], str]) -> str:
    for histogram in num_stats.get("histograms", []):
        buckets = histogram.get("buckets") or []
        if histogram.get("type", "STANDARD") == "STANDARD" and buckets:
            counts = [_num(b.get("sampleCount")) for b in buckets]
            low, high = fmt(buckets[0].get("lowValue", 0)), fmt(buckets[-1].get("highValue", 0))
            return f"{_bars(counts, color)}<br><small>{low} … {high}</small>"
    return ""


def _counts(block: Mapping[str, Any], rows: int) -> tuple[str, str]:
    common = block.get("commonStats", {})
    present = _num(common.get("numNonMissing"))
    missing = _num(common.get("numMissing"), rows - present)
    share = f" ({missing / rows:.1%})" if rows and missing else ""
    return _fmt(present), f"{_fmt(missing)}{share}"


def _numeric_row(split: str, feature: Mapping[str, Any], rows: int, is_time: bool = False) -> str:
    block = feature.get("numStats", {})
    present, missing = _counts(block, rows)
    value, spread = (_date, _days) if is_time else (_fmt, _fmt)
    cells = [present, missing, value(block.get("mean", 0)), spread(block.get("stdDev", 0))]
    cells += [_fmt(block.get("numZeros", 0))]
    cells += [value(block.get(k, 0)) for k in ("min", "median", "max")]
    color = _COLORS.get(split, "#555")
    return (
        f'<td class="split" style="color:{color}">{escape(split)}</td>'
        + "".join(f"<td>{c}</td>" for c in cells)
        + f'<td class="left">{_histogram(block, color, value)}</td>'
    )


def _string_row(split: str, feature: Mapping[str, Any], rows: int) -> str:
    block = feature.get("stringStats", {})
    present, missing = _counts(block, rows)
    top = block.get("topValues", [])[:_TOP_VALUES]
    total = _num(block.get("commonStats", {}).get("numNonMissing")) or 1.0
    listed = ", ".join(
        f"{escape(str(t.get('value', '')))} ({_num(t.get('frequency')) / total:.0%})" for t in top
    )
    chart = _bars([_num(t.get("frequency")) for t in top], _COLORS.get(split, "#555"))
    return (
        f'<td class="split" style="color:{_COLORS.get(split, "#555")}">{escape(split)}</td>'
        f"<td>{present}</td><td>{missing}</td><td>{_fmt(block.get('unique'))}</td>"
        f'<td class="left">{listed}</td><td class="left">{chart}</td>'
    )


def _table(
    title: str,
    headers: list[str],
    names: list[str],
    per_split: dict[str, tuple[int, dict[str, dict[str, Any]]]],
    row: Callable[[str, str, Mapping[str, Any], int], str],
    flagged: set[str],
) -> str:
    if not names:
        return ""
    head = "".join(f"<th>{h}</th>" for h in ["split", *headers])
    body = []
    for name in names:
        present = [s for s, (_, feats) in per_split.items() if name in feats]
        for i, split in enumerate(present):
            rows, feats = per_split[split]
            label = (
                f'<td class="name" rowspan="{len(present)}">{escape(name)}</td>' if i == 0 else ""
            )
            css = ' class="bad"' if name in flagged else ""
            body.append(f"<tr{css}>{label}{row(name, split, feats[name], rows)}</tr>")
    return (
        f'<h2>{title}</h2><table><tr><th class="name">feature</th>{head}</tr>'
        + "".join(body)
        + "</table>"
    )


def _anomaly_list(anomalies: list[Anomaly]) -> str:
    if not anomalies:
        return '<p class="ok">No anomalies.</p>'
    items = "".join(
        f"<li><b>{escape(a.column or 'dataset')}</b> ({escape(a.split or 'all splits')}): "
        f"{escape(a.description)}</li>"
        for a in anomalies
    )
    return f'<p class="fail">{len(anomalies)} anomalies:</p><ul>{items}</ul>'


def render_statistics_html(
    project: str,
    stats: Mapping[str, Mapping[str, Any]],
    anomalies: list[Anomaly],
    schema_path: str,
    timestamp_columns: list[str] | None = None,
) -> str:
    """The page: anomalies first, then numeric and string features, one row per split.

    Args:
        project: Shown in the title.
        stats: Split name -> ``DatasetFeatureStatisticsList`` as ``MessageToDict`` gives it.
        anomalies: Listed first; their columns are highlighted in the tables.
        schema_path: The schema the data was checked against.
        timestamp_columns: Columns holding epoch seconds, shown as UTC times.
    """
    times = set(timestamp_columns or [])
    per_split = {split: _features(s) for split, s in stats.items()}
    names: list[str] = []
    for _, feats in per_split.values():
        names += [n for n in feats if n not in names]

    def numeric(name: str) -> bool:
        return any(_is_numeric(f[name]) for _, f in per_split.values() if name in f)

    flagged = {a.column for a in anomalies if a.column}
    sizes = ", ".join(f"{escape(s)}: {_fmt(rows)} rows" for s, (rows, _) in per_split.items())
    numeric_table = _table(
        "Numeric features",
        ["count", "missing", "mean", "std dev", "zeros", "min", "median", "max", "histogram"],
        [n for n in names if numeric(n)],
        per_split,
        lambda name, split, feature, rows: _numeric_row(split, feature, rows, name in times),
        flagged,
    )
    string_table = _table(
        "String features",
        ["count", "missing", "unique", f"top {_TOP_VALUES} values", "top values"],
        [n for n in names if not numeric(n)],
        per_split,
        lambda name, split, feature, rows: _string_row(split, feature, rows),
        flagged,
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(project)}: data statistics</title><style>{_CSS}</style></head><body>"
        f"<h1>{escape(project)}: data statistics</h1>"
        f"<p>{sizes}; schema: <code>{escape(schema_path)}</code></p>"
        f"<h2>Anomalies</h2>{_anomaly_list(anomalies)}{numeric_table}{string_table}"
        "</body></html>\n"
    )
