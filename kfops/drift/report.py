"""A drift check's outputs for people and scripts: table rows, JSON and an HTML page.

The page has one bar chart per feature (inline SVG, no script or network): the measured
skew and drift distances beside the threshold line, red when above it; TFDV's own Facets
comparison of training and served statistics is linked from it.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from kfops.drift.check import DriftReport, FeatureDrift

REPORT_JSON = "drift.json"
REPORT_HTML = "drift.html"
_BAR_WIDTH, _CHART_HEIGHT = 260, 90


TABLE_COLUMNS = ("feature", "comparison", "kind", "distance", "threshold", "drifted")


def table_rows(features: list[dict[str, Any]]) -> list[list[str]]:
    """One printed row per feature and comparison, from the JSON report's ``features``."""
    return [
        [
            f["name"],
            f["comparison"],
            f["kind"],
            f"{f['distance']:.4f}",
            f"{f['threshold']:g}",
            "DRIFTED" if f["drifted"] else "ok",
        ]
        for f in features
    ]


PERFORMANCE_COLUMNS = ("version", "metric", "value", "registered", "drop", "rows", "degraded")


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def performance_rows(performance: list[dict[str, Any]]) -> list[list[str]]:
    """One printed row per served version, from the JSON report's ``performance``."""
    return [
        [
            p["version"],
            p["metric"],
            _number(p["value"]),
            _number(p["registered"]),
            _number(p["drop"]),
            str(p["rows"]),
            "DEGRADED" if p["degraded"] else "ok",
        ]
        for p in performance
    ]


def _performance_table(report: DriftReport) -> str:
    if not report.performance:
        return ""
    rows = performance_rows([p.to_dict() for p in report.performance])
    head = "".join(f"<th>{c}</th>" for c in PERFORMANCE_COLUMNS)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(v)}</td>" for v in row) + "</tr>" for row in rows
    )
    return f"<h2>Live metric per served version</h2><table><tr>{head}</tr>{body}</table>"


def _chart(measures: list[FeatureDrift]) -> str:
    """Horizontal bars (0..1 scale, at least the threshold) with the threshold as a line."""
    top = max([1e-9] + [max(m.distance, m.threshold) for m in measures]) * 1.1
    scale = _BAR_WIDTH / top
    parts = [f'<svg width="{_BAR_WIDTH + 170}" height="{_CHART_HEIGHT}" role="img">']
    for i, m in enumerate(measures):
        y = 10 + i * 35
        color = "#d62728" if m.drifted else "#2ca02c"
        parts.append(
            f'<text x="0" y="{y + 14}" font-size="12">{m.comparison}</text>'
            f'<rect x="45" y="{y}" width="{max(m.distance * scale, 1):.1f}" height="20" '
            f'fill="{color}"><title>{m.distance:.4f}</title></rect>'
            f'<line x1="{45 + m.threshold * scale:.1f}" x2="{45 + m.threshold * scale:.1f}" '
            f'y1="{y - 4}" y2="{y + 24}" stroke="black" stroke-dasharray="3,2"/>'
            f'<text x="{_BAR_WIDTH + 55}" y="{y + 14}" font-size="12">{m.distance:.4f} / '
            f"{m.threshold:g}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def render_html(report: DriftReport, facets_link: str | None) -> str:
    by_feature: dict[str, list[FeatureDrift]] = {}
    for f in report.features:
        by_feature.setdefault(f.name, []).append(f)
    verdict = f"DRIFTED: {', '.join(report.drifted_features())}" if report.drifted else "no drift"
    sections = []
    for name, measures in sorted(
        by_feature.items(), key=lambda kv: not any(m.drifted for m in kv[1])
    ):
        kind = html.escape(measures[0].kind)
        measure = "Jensen-Shannon divergence" if kind == "numeric" else "L-infinity distance"
        sections.append(
            f"<section><h3>{html.escape(name)} <small>({kind}, {measure})</small></h3>"
            f"{_chart(measures)}</section>"
        )
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in report.notes)
    link = (
        f'<p><a href="{html.escape(facets_link)}">TFDV statistics: training vs served</a></p>'
        if facets_link
        else ""
    )
    title = f"Drift of {html.escape(report.model)} version {html.escape(report.version)}"
    span = f"{report.window.start:%Y-%m-%d %H:%M:%S} to {report.window.end:%Y-%m-%d %H:%M:%S}"
    legend = (
        f"window {span} UTC: {report.rows} rows; previous window: {report.previous_rows} rows. "
        "Bars: measured distance (skew: against the training statistics; drift: against the "
        "previous window); dashed line: threshold."
    )
    style = (
        "body{font-family:sans-serif;margin:2em}"
        "section{display:inline-block;margin:0 2em 1em 0;vertical-align:top}"
    )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title>"
        f"<style>{style}</style></head><body><h1>{title}</h1>"
        f"<p><b>{html.escape(verdict)}</b></p><p>{legend}</p><ul>{notes}</ul>{link}"
        f"{_performance_table(report)}{''.join(sections)}</body></html>"
    )


def write_reports(report: DriftReport, out_dir: Path) -> tuple[Path, Path]:
    """``drift.json`` and ``drift.html`` in ``out_dir``; returns their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    facets = Path(report.facets_html) if report.facets_html else None
    link = None
    if facets is not None and facets.is_file():
        link = (
            facets.relative_to(out_dir).as_posix()
            if facets.is_relative_to(out_dir)
            else facets.as_uri()
        )
    page = out_dir / REPORT_HTML
    page.write_text(render_html(report, link), encoding="utf-8")
    data = out_dir / REPORT_JSON
    data.write_text(json.dumps({**report.to_dict(), "report": str(page)}, indent=2) + "\n")
    return data, page
