"""Validation through a TFDV runtime started ahead (runtime.WarmTFDV, ``$KFOPS_TFDV_SERVER``)
gives the same report and the same errors as validate starting the runtime itself; a
server that is gone leaves validate to start it, as before."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kfops.config import DataConfig, ValidationConfig
from kfops.errors import ValidationError
from kfops.validation import runtime, validate_splits

from .conftest import ANOMALOUS_CSV, write_split

pytestmark = [
    pytest.mark.skipif(
        runtime.tfdv_importable() or not runtime.tfdv_python().is_file(),
        reason="no separate TFDV runtime: run `make setup` or set KFOPS_TFDV_PYTHON",
    ),
    pytest.mark.slow,
]


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[runtime.WarmTFDV]:
    warm = runtime.WarmTFDV(str(tmp_path / "sock"))
    monkeypatch.setenv(runtime.SERVER_ENV, warm.path)
    yield warm
    warm.close()


def outcome(
    train: str, test: str, validation: ValidationConfig, data: DataConfig, out: Path
) -> tuple[dict, str]:
    """The report (paths and the run-to-run order of tied top values left out), or the
    error's message."""
    try:
        report = validate_splits(train, test, validation, data, "churn", str(out), str(out))
    except ValidationError as error:
        message = str(error).replace(str(out), "<out>")
        report = getattr(error, "report", None)
        return ({} if report is None else _kept(report.to_dict())), message
    return _kept(report.to_dict()), ""


def _kept(report: dict) -> dict:
    return {
        k: v
        for k, v in report.items()
        if not any(part in k for part in ("path", "html", "statistics", "json", "copy"))
    }


def test_the_warm_runtime_answers_as_the_runtime_started_by_validate(
    tmp_path: Path,
    server: runtime.WarmTFDV,
    curated: ValidationConfig,
    churn_data: DataConfig,
    clean_splits: tuple[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    anomalous = (
        clean_splits[0],
        write_split(ANOMALOUS_CSV, tmp_path / "bad" / "test.parquet"),
    )
    warm = [
        outcome(*splits, curated, churn_data, tmp_path / f"warm{i}")
        for i, splits in enumerate((clean_splits, anomalous))
    ]
    log = (tmp_path / "warm0" / runtime_log()).read_text()
    assert "warm TFDV runtime" in log
    server.close()  # gone: validate starts the runtime itself, as without a server
    cold = [
        outcome(*splits, curated, churn_data, tmp_path / f"cold{i}")
        for i, splits in enumerate((clean_splits, anomalous))
    ]
    assert "warm TFDV runtime" not in (tmp_path / "cold0" / runtime_log()).read_text()
    assert warm == cold
    assert warm[0][1] == "" and warm[0][0]["anomalies"] == []
    assert "churn" in warm[1][1] and warm[1][0]["anomalies"]


def runtime_log() -> str:
    from kfops.validation.validate import WORKER_LOG

    return WORKER_LOG
