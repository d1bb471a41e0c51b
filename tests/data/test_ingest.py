"""Reading, checking, digesting and splitting datasets (kfops.data.ingest)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kfops.config import DataConfig, DataFormat, TaskType, load_config
from kfops.data.ingest import (
    READERS,
    check_dataset,
    dataset_digest,
    feature_columns,
    infer_task,
    ingest,
    read_dataset,
    split_dataset,
)
from kfops.errors import DataError

REPO = Path(__file__).resolve().parents[2]


def data_cfg(**fields) -> DataConfig:
    return DataConfig.model_validate({"path": "data.csv", "target": "label", **fields})


def frame(rows: int = 40, positives: int = 10) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "id": [f"C{i:04d}" for i in range(rows)],
            "when": pd.date_range("2025-01-01", periods=rows, freq="D").strftime(
                "%Y-%m-%dT%H:%M:%SZ"
            ),
            "x": rng.normal(size=rows),
            "n": np.arange(rows),
            "color": rng.choice(["red", "blue"], size=rows),
            "flag": np.arange(rows) % 2 == 0,
            "label": [1] * positives + [0] * (rows - positives),
        }
    )


# read_dataset ---------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".csv.gz"])
def test_read_dataset_reads_csv_and_parquet_by_extension(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"d{suffix}"
    df = frame()
    if suffix == ".parquet":
        df.to_parquet(path)
    else:
        df.to_csv(path, index=False)
    read = read_dataset(str(path))
    assert list(read.columns) == list(df.columns)
    assert len(read) == len(df)


def test_read_dataset_accepts_file_uri_and_explicit_format(tmp_path: Path) -> None:
    path = tmp_path / "data.txt"
    frame().to_csv(path, index=False)
    assert len(read_dataset(path.as_uri(), DataFormat.CSV)) == 40


@pytest.mark.parametrize(
    ("name", "content", "match"),
    [
        ("missing.csv", None, r"missing\.csv: file not found; pass --data"),
        ("data.xlsx", b"a,b\n1,2\n", r"data\.xlsx: cannot tell the format.*CSV.*Parquet"),
        ("broken.parquet", b"not parquet at all", r"broken\.parquet: cannot read as parquet"),
        ("header.csv", b"a,b\n", r"header\.csv: dataset is empty \(0 rows, 2 columns\)"),
        ("zero.csv", b"", r"zero\.csv: dataset is empty"),
    ],
)
def test_read_dataset_errors_name_the_file(
    tmp_path: Path, name: str, content: bytes | None, match: str
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(DataError, match=match):
        read_dataset(str(path))


def test_read_dataset_rejects_unknown_scheme_and_uses_registered_ones(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with pytest.raises(DataError, match=r"unsupported URI scheme 'mem'; use a local path"):
        read_dataset("mem://bucket/data.csv")
    monkeypatch.setitem(READERS, "mem", lambda uri, fmt: pd.DataFrame({"uri": [uri]}))
    assert read_dataset("mem://bucket/data.csv")["uri"][0] == "mem://bucket/data.csv"


# dataset_digest -------------------------------------------------------------------------


def test_digest_is_equal_for_equal_data_and_ignores_the_index() -> None:
    shuffled_index = frame().set_axis(range(100, 140))
    assert dataset_digest(frame()) == dataset_digest(shuffled_index)
    assert len(dataset_digest(frame())) == 64


@pytest.mark.parametrize(
    "change",
    [
        lambda df: df.assign(x=df["x"].where(df.index != 3, 0.5)),
        lambda df: df.rename(columns={"color": "colour"}),
        lambda df: df.assign(n=df["n"].astype(float)),
        lambda df: df.iloc[::-1],
        lambda df: df.iloc[:-1],
        lambda df: df[list(reversed(df.columns))],
    ],
    ids=["value", "column-name", "dtype", "row-order", "row-dropped", "column-order"],
)
def test_digest_changes_when_the_data_change(change) -> None:
    assert dataset_digest(change(frame())) != dataset_digest(frame())


def test_digest_is_pinned_across_processes_and_machines() -> None:
    """A fixed frame has a fixed digest: no process salt, no object addresses, no byte order.

    If a pandas upgrade changes this value, every recorded dataset digest changes with it;
    that is worth knowing before the upgrade lands.
    """
    df = pd.DataFrame(
        {
            "id": ["a", "b", None],
            "x": [1.5, np.nan, -2.0],
            "n": [1, 2, 3],
            "ok": [True, False, True],
            "when": pd.to_datetime(["2025-01-01", "2025-06-30", "2025-12-31"], utc=True),
            "c": pd.Categorical(["u", "v", "u"]),
        }
    )
    expected = "a2f7f1e6e04c4541c4f99247ec8feb75d8346e6d72e9fc0f84ed36b44839c5b3"
    assert dataset_digest(df) == expected


# infer_task -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "task"),
    [
        (["yes", "no"] * 50, TaskType.CLASSIFICATION),
        ([True, False] * 50, TaskType.CLASSIFICATION),
        (pd.Categorical(["a", "b", "c"] * 10), TaskType.CLASSIFICATION),
        ([0, 1] * 5, TaskType.CLASSIFICATION),
        ([0.0, 1.0, np.nan] * 5, TaskType.CLASSIFICATION),
        (list(range(5)) * 200, TaskType.CLASSIFICATION),  # 5 values <= 5% of 1,000 rows
        (list(range(5)) * 10, TaskType.REGRESSION),  # 5 values > 5% of 50 rows
        (list(range(21)) * 100, TaskType.REGRESSION),  # more than 20 values
        ([0.5, 1.25, 3.0] * 50, TaskType.REGRESSION),
    ],
)
def test_infer_task(values, task: TaskType) -> None:
    assert infer_task(pd.Series(values)) is task


# check_dataset --------------------------------------------------------------------------


def test_check_dataset_returns_configured_or_inferred_task() -> None:
    assert check_dataset(frame(), data_cfg(), "d.csv") is TaskType.CLASSIFICATION
    configured = data_cfg(task="regression")
    assert check_dataset(frame(), configured, "d.csv") is TaskType.REGRESSION


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        ({"target": "churn"}, r"d\.csv: no column 'churn' \(data\.target\); the columns are: id,"),
        ({"entity_column": "cust"}, r"no column 'cust' \(data\.entity_column\)"),
        ({"timestamp_column": "ts"}, r"no column 'ts' \(data\.timestamp_column\)"),
        ({"drop_columns": ["nope"]}, r"no column 'nope' \(data\.drop_columns\)"),
    ],
)
def test_check_dataset_missing_columns(fields: dict, match: str) -> None:
    with pytest.raises(DataError, match=match):
        check_dataset(frame(), data_cfg(**fields), "d.csv")


def test_check_dataset_bad_timestamp_names_column_and_value() -> None:
    df = frame()
    df.loc[7, "when"] = "next tuesday"
    match = r"d\.csv: column 'when' holds 'next tuesday', which is not a timestamp; .*ISO-8601"
    with pytest.raises(DataError, match=match):
        check_dataset(df, data_cfg(timestamp_column="when"), "d.csv")


def test_check_dataset_accepts_mixed_iso_timestamps() -> None:
    df = frame()
    df.loc[3, "when"] = "2025-01-04"
    df.loc[4, "when"] = "2025-01-05 10:30"
    assert check_dataset(df, data_cfg(timestamp_column="when"), "d.csv")


def test_check_dataset_missing_timestamps_are_counted() -> None:
    df = frame()
    df.loc[[1, 2], "when"] = None
    with pytest.raises(DataError, match=r"column 'when' has 2 missing timestamps"):
        check_dataset(df, data_cfg(timestamp_column="when"), "d.csv")


def test_check_dataset_missing_target_values_are_counted() -> None:
    df = frame().astype({"label": float})
    df.loc[[0, 5, 9], "label"] = np.nan
    with pytest.raises(DataError, match=r"target 'label' is missing in 3 of 40 rows"):
        check_dataset(df, data_cfg(), "d.csv")


def test_check_dataset_single_class_target() -> None:
    df = frame().assign(label="yes")
    match = (
        r"single-class target 'label' in d\.csv: every row is 'yes'; "
        r"a classifier needs at least two classes"
    )
    with pytest.raises(DataError, match=match):
        check_dataset(df, data_cfg(), "d.csv")


def test_check_dataset_regression_target_must_be_numeric() -> None:
    with pytest.raises(DataError, match=r"regression target 'color' is object, e.g. '(red|blue)'"):
        check_dataset(frame(), data_cfg(target="color", task="regression"), "d.csv")


@pytest.mark.parametrize(("rows", "test_size"), [(9, 0.2), (40, 0.99), (40, 0.01)])
def test_check_dataset_needs_enough_rows_on_each_side(rows: int, test_size: float) -> None:
    cfg = data_cfg(split={"test_size": test_size})
    with pytest.raises(
        DataError, match=r"d\.csv: \d+ rows split \d+/\d+ at data\.split\.test_size"
    ):
        check_dataset(frame(rows, positives=3), cfg, "d.csv")


# split_dataset --------------------------------------------------------------------------


def test_split_is_stratified_disjoint_and_deterministic() -> None:
    df = frame(rows=100, positives=10)
    train, test = split_dataset(df, data_cfg(), TaskType.CLASSIFICATION)
    assert (len(train), len(test)) == (80, 20)
    assert set(train.index).isdisjoint(test.index)
    assert set(train.index) | set(test.index) == set(df.index)
    assert (train["label"].sum(), test["label"].sum()) == (8, 2)
    again, _ = split_dataset(df, data_cfg(), TaskType.CLASSIFICATION)
    other, _ = split_dataset(df, data_cfg(split={"seed": 7}), TaskType.CLASSIFICATION)
    assert list(again.index) == list(train.index)
    assert list(other.index) != list(train.index)


def test_split_falls_back_to_unstratified_when_a_class_is_a_singleton(
    caplog: pytest.LogCaptureFixture,
) -> None:
    df = frame(rows=50, positives=1)
    train, test = split_dataset(df, data_cfg(), TaskType.CLASSIFICATION)
    assert (len(train), len(test)) == (40, 10)
    assert "cannot stratify on 'label'" in caplog.text


# feature_columns ------------------------------------------------------------------------


def test_feature_columns_split_numeric_and_categorical_and_skip_special_columns() -> None:
    df = frame().assign(seen=pd.Timestamp("2025-01-01"), extra=1.0)
    cfg = data_cfg(entity_column="id", timestamp_column="when", drop_columns=["extra"])
    numeric, categorical = feature_columns(df, cfg)
    assert numeric == ["x", "n"]
    assert categorical == ["color", "flag"]


# ingest ---------------------------------------------------------------------------------


def test_ingest_writes_parquet_splits_with_real_timestamps(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    frame(rows=50).to_csv(source, index=False)
    cfg = data_cfg(path=str(source), entity_column="id", timestamp_column="when")
    train_out, test_out = tmp_path / "a" / "train.parquet", tmp_path / "b" / "c" / "test.parquet"
    summary = ingest(cfg, str(train_out), str(test_out))
    assert summary.digest == dataset_digest(read_dataset(str(source)))
    assert (summary.rows, summary.columns, summary.task) == (50, 7, TaskType.CLASSIFICATION)
    assert (summary.train_rows, summary.test_rows, summary.source) == (40, 10, str(source))
    train, test = pd.read_parquet(train_out), pd.read_parquet(test_out)
    assert str(train["when"].dtype) == "datetime64[ns, UTC]"
    both = pd.concat([train, test]).sort_values("id")
    expected = pd.to_datetime(frame(rows=50)["when"], utc=True)
    assert both["when"].tolist() == expected.tolist()
    assert both["id"].is_unique and len(both) == 50


@pytest.mark.parametrize(
    ("example", "rows", "task"),
    [("churn", 6000, TaskType.CLASSIFICATION), ("housing", 2000, TaskType.REGRESSION)],
)
def test_bundled_examples_pass_the_checks(example: str, rows: int, task: TaskType) -> None:
    cfg = load_config(REPO / "examples" / example / "kfops.yaml")
    assert Path(cfg.data.path).stat().st_size < 1_000_000
    df = read_dataset(cfg.data.path, cfg.data.format)
    assert len(df) == rows
    assert check_dataset(df, cfg.data, cfg.data.path) is task
    assert infer_task(df[cfg.data.target]) is task
    if example == "churn":
        assert df["customer_id"].is_unique
        assert 0.2 < df["churned"].mean() < 0.3
        assert 0.02 < df["total_charges"].isna().mean() < 0.04
