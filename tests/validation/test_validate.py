"""validate_splits end to end, through the real TFDV runtime (a subprocess here).

TFDV's import costs about 22 s, so the module launches the runtime twice: once for a
plain call (the path a pipeline step takes), then one session for all other scenarios.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kfops.config import DataConfig, ValidationConfig
from kfops.errors import DataError, ValidationError
from kfops.validation import ValidationReport, runtime, validate_splits

from .conftest import ANOMALOUS_CSV, CLEAN_CSV, CURATED_SCHEMA, write_split

pytestmark = pytest.mark.skipif(
    not runtime.tfdv_importable() and not runtime.tfdv_python().is_file(),
    reason="no TFDV runtime: run `make setup` or set KFOPS_TFDV_PYTHON",
)


def run(
    train: str, test: str, validation: ValidationConfig, data: DataConfig, tmp: Path
) -> ValidationReport:
    return validate_splits(
        train, test, validation, data, "churn", str(tmp / "state"), str(tmp / "out")
    )


def failure(
    train: str, test: str, validation: ValidationConfig, data: DataConfig, tmp: Path
) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        run(train, test, validation, data, tmp)
    return caught.value


@pytest.mark.slow
def test_clean_data_passes_with_the_curated_schema(
    tmp_path: Path, clean_splits: tuple[str, str], curated: ValidationConfig, churn_data: DataConfig
) -> None:
    report = run(*clean_splits, curated, churn_data, tmp_path)

    assert report.passed and report.anomalies == []
    assert (report.schema_inferred, report.schema_saved) == (False, False)
    assert report.rows == {"train": 240, "test": 60}
    assert report.num_features == 13
    assert report.timestamp_columns == ["event_timestamp"]
    assert Path(report.schema_copy).read_bytes() == CURATED_SCHEMA.read_bytes()
    for stats in (report.train_statistics, report.test_statistics):
        assert Path(stats).stat().st_size > 1000
    page = Path(report.statistics_html).read_text()
    assert "train: 240 rows, test: 60 rows" in page and "No anomalies." in page
    assert ">tenure_months<" in page and "month-to-month (" in page
    assert "https://" not in page and "<script" not in page
    assert "facets-overview" in Path(report.facets_html).read_text()
    recorded = json.loads(Path(report.anomalies_json).read_text())
    assert recorded["passed"] is True and recorded["anomalies"] == []
    assert json.loads(json.dumps(report.to_dict()))["rows"] == {"train": 240, "test": 60}


@pytest.mark.slow
def test_anomalous_data_fails_naming_each_column(
    tmp_path: Path,
    tfdv_session: object,
    clean_splits: tuple[str, str],
    curated: ValidationConfig,
    churn_data: DataConfig,
) -> None:
    schema = Path(str(curated.schema_path))
    before = (schema.read_bytes(), schema.stat().st_mtime_ns)
    bad = write_split(ANOMALOUS_CSV, tmp_path / "bad" / "test.parquet")

    error = failure(clean_splits[0], bad, curated, churn_data, tmp_path)

    message = str(error)
    assert "\n" not in message
    assert message.startswith("validation failed for churn (test split): ")
    assert "column 'contract': unexpected string values ('lifetime')" in message
    assert "column 'age' missing" in message
    assert "column 'support_calls': expected INT values, got STRING" in message
    assert "'many'" in message
    assert message.endswith(f"fix the data or update the schema at {schema}")
    assert (schema.read_bytes(), schema.stat().st_mtime_ns) == before
    recorded = json.loads((tmp_path / "out" / "anomalies.json").read_text())
    assert recorded["passed"] is False
    assert {(a["column"], a["kind"]) for a in recorded["anomalies"]} >= {
        ("contract", "unexpected_values"),
        ("age", "missing_column"),
        ("support_calls", "wrong_type"),
    }
    assert "lifetime" in (tmp_path / "out" / "statistics.html").read_text()
    assert error.report.schema_path == str(schema)  # type: ignore[attr-defined]


@pytest.mark.slow
def test_first_run_infers_and_saves_a_schema_that_the_second_run_reuses(
    tmp_path: Path, tfdv_session: object, churn_data: DataConfig
) -> None:
    # 80-row datasets: under TFDV's 100-value limit, so customer_id would get a domain
    # (and the second run's new ids would fail) unless id columns are kept domain-free.
    first = [
        write_split(CLEAN_CSV, tmp_path / "d1" / f"{s}.parquet", r)
        for s, r in (("train", slice(0, 64)), ("test", slice(64, 80)))
    ]
    second = [
        write_split(CLEAN_CSV, tmp_path / "d2" / f"{s}.parquet", r)
        for s, r in (("train", slice(80, 144)), ("test", slice(144, 160)))
    ]
    settings = ValidationConfig(max_missing_fraction=0.1, categorical_min_domain_mass=0.95)
    saved = tmp_path / "state" / "schemas" / "churn" / "schema.pbtxt"

    report = run(*first, settings, churn_data, tmp_path)

    assert report.passed and report.schema_inferred and report.schema_saved
    assert report.schema_path == str(saved)
    text = saved.read_text()
    assert saved.read_bytes() == Path(report.schema_copy).read_bytes()
    customer = text.split('name: "customer_id"')[1].split("feature {")[0]
    assert "domain" not in customer
    assert 'domain: "contract"' in text and 'value: "two-year"' in text
    assert "min_domain_mass: 0.95" in text
    assert "min_fraction: 0.9" in text and "min_fraction: 1.0" not in text

    again = run(*second, settings, churn_data, tmp_path)

    assert again.passed and not again.schema_inferred and not again.schema_saved
    assert saved.read_text() == text


@pytest.mark.slow
def test_inferred_schema_is_not_saved_when_the_data_fails(
    tmp_path: Path, tfdv_session: object, clean_splits: tuple[str, str], churn_data: DataConfig
) -> None:
    error = failure(*clean_splits, ValidationConfig(max_missing_fraction=0.0), churn_data, tmp_path)

    message = str(error)
    assert "column 'total_charges': present in" in message and "column 'region'" in message
    assert "the inferred schema was not saved" in message
    assert not (tmp_path / "state" / "schemas").exists()
    assert (tmp_path / "out" / "schema.pbtxt").is_file()


@pytest.mark.slow
def test_min_rows(
    tmp_path: Path,
    tfdv_session: object,
    clean_splits: tuple[str, str],
    curated: ValidationConfig,
    churn_data: DataConfig,
) -> None:
    curated.min_rows = 301
    error = failure(*clean_splits, curated, churn_data, tmp_path)
    assert str(error) == (
        "validation failed for churn: only 300 rows in all splits, fewer than "
        "validation.min_rows (301) — add rows or lower validation.min_rows"
    )
    assert json.loads((tmp_path / "out" / "anomalies.json").read_text())["passed"] is False

    curated.min_rows = 300
    assert run(*clean_splits, curated, churn_data, tmp_path / "again").passed


@pytest.mark.slow
def test_drift_between_train_and_test(
    tmp_path: Path, tfdv_session: object, curated: ValidationConfig, churn_data: DataConfig
) -> None:
    import pandas as pd

    train = write_split(CLEAN_CSV, tmp_path / "train.parquet", slice(0, 240))
    frame = pd.read_csv(CLEAN_CSV)
    frame[frame["contract"] == "month-to-month"].to_csv(tmp_path / "mtm.csv", index=False)
    test = write_split(tmp_path / "mtm.csv", tmp_path / "test.parquet")
    curated.drift_threshold = 0.2

    error = failure(train, test, curated, churn_data, tmp_path)

    assert "column 'contract': drift from train: L-infinity distance" in str(error)
    assert "customer_id" not in str(error) and "event_timestamp" not in str(error)
    assert str(error).endswith("check how the data was split or raise validation.drift_threshold")


@pytest.mark.slow
def test_broken_schema_and_unreadable_split(
    tmp_path: Path,
    tfdv_session: object,
    clean_splits: tuple[str, str],
    curated: ValidationConfig,
    churn_data: DataConfig,
) -> None:
    Path(str(curated.schema_path)).write_text("feature { name: 'x' typo: 1 }\n")
    with pytest.raises(ValidationError, match=r"is not a valid TFDV schema .*; fix it, or delete"):
        run(*clean_splits, curated, churn_data, tmp_path)

    not_parquet = tmp_path / "test.parquet"
    not_parquet.write_text("customer_id,age\nC1,30\n")
    with pytest.raises(DataError, match=r"^test split: .* is not a readable Parquet file"):
        run(clean_splits[0], str(not_parquet), ValidationConfig(), churn_data, tmp_path)


def test_missing_split_is_a_data_error_before_tfdv_starts(
    tmp_path: Path, churn_data: DataConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(runtime.PYTHON_ENV_VAR, "/nonexistent/python")
    with pytest.raises(
        DataError, match="^train split: .*train.parquet does not exist; run the split step"
    ):
        run(
            str(tmp_path / "train.parquet"),
            str(tmp_path / "t.parquet"),
            ValidationConfig(),
            churn_data,
            tmp_path,
        )
