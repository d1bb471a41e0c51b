"""Dataset lineage (kfops.registry.lineage): pure grouping, then the MLflow query and CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from kfops.cli import data as data_cli
from kfops.registry.lineage import (
    DIGEST_TAG,
    GIT_COMMIT_TAG,
    REVISION_TAG,
    ROWS_TAG,
    SCHEMA_TAG,
    SOURCE_TAG,
    DatasetVersion,
    ModelVersionRecord,
    RunRecord,
    dataset_history,
    group_dataset_versions,
    iso_time,
)
from kfops.steps.train import dataset_tags

DAY = 86_400_000  # milliseconds


def run(run_id: str, day: int, digest: str = "", **tags: str) -> RunRecord:
    """A run started on day ``day`` of 2025 that trained on ``digest``."""
    recorded = {DIGEST_TAG: digest, **{f"kfops.dataset.{k}": v for k, v in tags.items()}}
    return RunRecord(run_id, 1_735_689_600_000 + day * DAY, recorded if digest else {})


def mv(version: str, run_id: str, name: str = "churn-model") -> ModelVersionRecord:
    return ModelVersionRecord(name, version, run_id)


def summary(found: list[DatasetVersion]) -> list[tuple[str, list[str], list[str]]]:
    """(digest, run ids, 'name vN') per dataset version, in order: what the rows assert."""
    return [
        (
            ds.digest,
            [r.run_id for r in ds.runs],
            [f"{m.name} v{m.version}" for m in ds.model_versions],
        )
        for ds in found
    ]


@pytest.mark.parametrize(
    ("runs", "versions", "expected"),
    [
        pytest.param([], [], [], id="no runs"),
        pytest.param([run("r1", 0)], [mv("1", "r1")], [], id="run without a digest is left out"),
        pytest.param(
            [run("r1", 0, "d1")], [], [("d1", ["r1"], [])], id="one run, nothing registered"
        ),
        pytest.param(
            [run("r1", 0, "d1")],
            [mv("1", "r1")],
            [("d1", ["r1"], ["churn-model v1"])],
            id="one run, one version",
        ),
        pytest.param(
            [run("r2", 1, "d2"), run("r1", 0, "d1")],
            [mv("2", "r2"), mv("1", "r1")],
            [("d1", ["r1"], ["churn-model v1"]), ("d2", ["r2"], ["churn-model v2"])],
            id="two datasets, oldest first whatever the input order",
        ),
        pytest.param(
            [run("r3", 2, "d1"), run("r1", 0, "d1"), run("r2", 1, "d2")],
            [mv("3", "r3"), mv("1", "r1"), mv("2", "r2")],
            [
                ("d1", ["r1", "r3"], ["churn-model v1", "churn-model v3"]),
                ("d2", ["r2"], ["churn-model v2"]),
            ],
            id="a revisited dataset gathers both runs and versions",
        ),
        pytest.param(
            [run("r1", 0, "d1")],
            [mv("10", "r1"), mv("9", "r1"), mv("1", "r1", name="other")],
            [("d1", ["r1"], ["churn-model v9", "churn-model v10", "other v1"])],
            id="versions sort by name, then by number not text",
        ),
        pytest.param(
            [run("b", 0, "d1"), run("a", 0, "d1")],
            [mv("1", "zz")],
            [("d1", ["a", "b"], [])],
            id="same start time: by run id; versions of unknown runs ignored",
        ),
    ],
)
def test_group_dataset_versions(runs, versions, expected) -> None:
    assert summary(group_dataset_versions(runs, versions)) == expected


def test_dataset_record_comes_from_the_runs() -> None:
    runs = [
        run("old", 0, "d1", rows="", source="/data/churn.csv"),  # before rows/schema tags
        run("r2", 3, "d1", rows="200", schema_digest="s1", source="dvc://c.csv@v1", revision="c1"),
        run("r3", 5, "d1", rows="200", schema_digest="s1", source="dvc://c.csv@v1", revision="c1"),
    ]
    (found,) = group_dataset_versions(runs, [])
    assert (found.rows, found.schema_digest) == (200, "s1")
    assert found.sources == ("/data/churn.csv", "dvc://c.csv@v1")
    assert found.revisions == ("c1",)
    assert (found.first_seen, found.last_seen) == (runs[0].start_time, runs[2].start_time)
    out = found.to_dict()
    assert out["first_seen"] == "2025-01-01T00:00:00Z"
    assert out["last_seen"] == "2025-01-06T00:00:00Z"
    assert [r["revision"] for r in out["runs"]] == ["", "c1", "c1"]
    json.dumps(out)  # JSON-able as is


@pytest.mark.parametrize(
    ("recorded", "rows"), [("300", 300), ("300.0", 300), ("", None), ("n/a", None), ("2.5", None)]
)
def test_rows_are_whole_numbers_or_unknown(recorded: str, rows: int | None) -> None:
    (found,) = group_dataset_versions([run("r1", 0, "d1", rows=recorded)], [])
    assert found.rows == rows and found.schema_digest == ""


@pytest.mark.parametrize(
    ("millis", "text"),
    [(0, "1970-01-01T00:00:00Z"), (1_735_689_600_999, "2025-01-01T00:00:00Z")],
)
def test_iso_time(millis: int, text: str) -> None:
    assert iso_time(millis) == text


def test_the_train_step_writes_the_tags_lineage_reads() -> None:
    written = dataset_tags(
        {"digest": "d", "rows": 3, "schema_digest": "s", "source": "x", "revision": "c"}
    )
    assert {DIGEST_TAG, ROWS_TAG, SCHEMA_TAG, SOURCE_TAG, REVISION_TAG} <= set(written)
    assert written[SCHEMA_TAG] == "s" and written[REVISION_TAG] == "c"
    assert dataset_tags({"rows": 300.0})[ROWS_TAG] == "300", "KFP passes ints as doubles"
    assert GIT_COMMIT_TAG == "mlflow.source.git.commit"


# the MLflow query and the command --------------------------------------------------------


def cli() -> typer.Typer:
    app = typer.Typer()

    @app.command()
    def version() -> None:  # a second command keeps 'data' a sub-command, as in kfops
        """Print nothing."""

    data_cli.register(app)
    return app


def project(tmp_path: Path) -> Path:
    config = tmp_path / "kfops.yaml"
    config.write_text(
        f"project: churn\ndata: {{path: churn.csv, target: churned}}\n"
        f"runtime: {{root: {tmp_path / 'state'}}}\n"
    )
    return config


def test_history_before_any_run_is_empty_and_creates_no_store(tmp_path: Path) -> None:
    config = project(tmp_path)
    text = CliRunner().invoke(cli(), ["data", "history", "-c", str(config)])
    assert text.exit_code == 0, text.output
    assert "no training runs in experiment 'churn'" in text.output
    as_json = CliRunner().invoke(cli(), ["data", "history", "-c", str(config), "--json"])
    assert json.loads(as_json.output)["datasets"] == []
    assert not (tmp_path / "state").exists()


@pytest.mark.slow
def test_history_reads_runs_and_versions_from_mlflow(tmp_path: Path) -> None:
    from mlflow import MlflowClient

    config = project(tmp_path)
    uri = f"sqlite:///{tmp_path / 'state' / 'mlflow.db'}"
    (tmp_path / "state").mkdir()
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    experiment = client.create_experiment("churn")
    ids = []
    for digest in ("d1", "d2", "d1"):
        tags = dataset_tags({"digest": digest, "rows": 10, "schema_digest": "s", "source": "f"})
        created = client.create_run(experiment, tags=tags)
        client.set_terminated(created.info.run_id)
        ids.append(created.info.run_id)
    client.create_run(experiment)  # not a training run: no dataset tags
    client.create_registered_model("churn-model")
    for run_id in (ids[0], ids[2]):
        client.create_model_version("churn-model", f"runs:/{run_id}/model", run_id=run_id)

    found = dataset_history(uri, "churn")
    assert summary(found) == [
        ("d1", [ids[0], ids[2]], ["churn-model v1", "churn-model v2"]),
        ("d2", [ids[1]], []),
    ]
    table = CliRunner().invoke(
        cli(), ["data", "history", "-c", str(config)], env={"COLUMNS": "200"}
    )
    assert table.exit_code == 0, table.output
    assert "churn-model v1" in table.output and ids[1][:12] in table.output
