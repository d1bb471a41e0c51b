"""The validate step (kfops.steps.validate) with the config a pod receives.

The curated schema travels as text (``validation.schema_text``); the step must check the
splits against it, never against a schema inferred in its place, even where the
project's files do not exist.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from kfops.config import DATA_SECTIONS, cluster_config, load_config
from kfops.errors import ValidationError
from kfops.steps.validate import run_validate
from tests.validation.conftest import (  # noqa: F401  (fixture)
    ANOMALOUS_CSV,
    CLEAN_CSV,
    CURATED_SCHEMA,
    tfdv_session,
    write_split,
)

# TFDV statistics, in its own runtime: one process for the module.
pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("tfdv_session")]


def travelled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    """The data_config kfops submit sends for a copy of the churn example; then the copy is
    renamed away and the working directory is a new, empty folder, as in a pod."""
    project = tmp_path / "project"
    (project / "schema").mkdir(parents=True)
    shutil.copyfile(CURATED_SCHEMA, project / "schema" / "schema.pbtxt")
    (project / "kfops.yaml").write_text(
        "project: churn\n"
        "data: {path: 's3://bucket/churn.csv', target: churned, entity_column: customer_id,"
        " timestamp_column: event_timestamp}\n"
        "validation: {schema_path: schema/schema.pbtxt}\n"
        "tracking: {uri: 'http://mlflow.kubeflow:5000'}\n"
    )
    raw = cluster_config(load_config(project / "kfops.yaml"))
    raw["runtime"]["root"] = str(tmp_path / "pod-state")
    project.rename(tmp_path / "gone")
    pod = tmp_path / "pod"
    pod.mkdir()
    monkeypatch.chdir(pod)
    return {key: raw[key] for key in DATA_SECTIONS if key in raw}


def test_clean_data_is_checked_against_the_travelled_schema(tmp_path, monkeypatch):
    config = travelled(tmp_path, monkeypatch)
    train = write_split(CLEAN_CSV, tmp_path / "in" / "train.parquet", slice(0, 240))
    test = write_split(CLEAN_CSV, tmp_path / "in" / "test.parquet", slice(240, 300))

    result = run_validate(config, train, test, str(tmp_path / "out"))

    report = result.report
    assert report is not None and report.passed
    assert (report.schema_inferred, report.schema_saved) == (False, False)
    assert Path(report.schema_copy).read_text() == CURATED_SCHEMA.read_text()
    assert report.schema_path.endswith("schema/schema.pbtxt")
    assert not (tmp_path / "pod-state").exists()  # no inferred schema was saved
    assert list((tmp_path / "pod").iterdir()) == []


def test_data_outside_the_travelled_schema_fails(tmp_path, monkeypatch):
    """An inferred schema would take 'lifetime' in; the curated one has a closed domain."""
    config = travelled(tmp_path, monkeypatch)
    train = write_split(CLEAN_CSV, tmp_path / "in" / "train.parquet", slice(0, 240))
    bad = write_split(ANOMALOUS_CSV, tmp_path / "in" / "test.parquet")

    with pytest.raises(ValidationError) as caught:
        run_validate(config, train, bad, str(tmp_path / "out"))

    message = str(caught.value)
    assert "column 'contract': unexpected string values ('lifetime')" in message
    assert "schema/schema.pbtxt" in message
    assert caught.value.report.schema_inferred is False  # type: ignore[attr-defined]
