"""The self-contained statistics page, from MessageToDict-shaped statistics. Fast."""

from __future__ import annotations

from typing import Any

from kfops.validation.anomalies import Anomaly, AnomalyKind
from kfops.validation.stats_html import render_statistics_html


def numeric(name: str, present: int, missing: int = 0, **stats: Any) -> dict[str, Any]:
    common = {"numNonMissing": str(present)}
    if missing:
        common["numMissing"] = str(missing)
    buckets = [
        {"highValue": 10.0, "sampleCount": 3.0},  # lowValue 0 is left out, as MessageToDict does
        {"lowValue": 10.0, "highValue": 20.0, "sampleCount": 7.0},
    ]
    return {
        "path": {"step": [name]},
        "numStats": {"commonStats": common, "histograms": [{"buckets": buckets}], **stats},
    }


def string(name: str, present: int, top: dict[str, float]) -> dict[str, Any]:
    return {
        "type": "STRING",
        "path": {"step": [name]},
        "stringStats": {
            "commonStats": {"numNonMissing": str(present)},
            "unique": str(len(top)),
            "topValues": [{"value": v, "frequency": f} for v, f in top.items()],
        },
    }


def dataset(rows: int, *features: dict[str, Any]) -> dict[str, Any]:
    return {"datasets": [{"numExamples": str(rows), "features": list(features)}]}


STATS = {
    "train": dataset(
        10,
        numeric("tenure_months", 9, 1, mean=12.5, stdDev=3.25, max=20.0),
        numeric("event_timestamp", 10, 0, min=1735693307.0, max=1767224635.0),
        string("contract", 10, {"month-to-month": 6.0, "<two-year>": 4.0}),
    ),
    "test": dataset(
        4, numeric("tenure_months", 4, mean=11.0), string("contract", 4, {"lifetime": 4.0})
    ),
}


def render(anomalies: list[Anomaly] | None = None) -> str:
    return render_statistics_html(
        "churn", STATS, anomalies or [], "/s/schema.pbtxt", timestamp_columns=["event_timestamp"]
    )


def test_page_is_self_contained() -> None:
    page = render()
    assert page.startswith("<!DOCTYPE html>")
    for external in ("http://", "https://", "<script", "<link", "src="):
        assert external not in page


def test_page_shows_both_splits_and_their_numbers() -> None:
    page = render()
    assert "train: 10 rows, test: 4 rows" in page
    assert ">tenure_months<" in page and ">contract<" in page
    assert "<td>1 (10.0%)</td>" in page  # one missing tenure in train
    assert "<td>12.5</td>" in page and "<td>3.25</td>" in page
    assert "month-to-month (60%)" in page and "lifetime (100%)" in page
    assert "0 … 20" in page  # the histogram's range, with the omitted lowValue as 0
    assert page.count("<svg") == 5  # one chart per feature and split: 3 numeric, 2 string


def test_timestamps_are_shown_as_utc_times() -> None:
    page = render()
    assert "2025-01-01 01:01:47" in page and "2025-12-31 23:43:55" in page


def test_anomalies_are_listed_and_their_columns_flagged() -> None:
    lifetime = Anomaly(
        "contract", AnomalyKind.UNEXPECTED_VALUES, "unexpected string values ('lifetime')", "test"
    )
    page = render([lifetime])
    assert "1 anomalies" in page
    assert "unexpected string values (&#x27;lifetime&#x27;)" in page
    assert '<tr class="bad"><td class="name" rowspan="2">contract</td>' in page
    assert "No anomalies." in render()


def test_values_are_escaped() -> None:
    assert "&lt;two-year&gt;" in render()
    assert "<two-year>" not in render()
