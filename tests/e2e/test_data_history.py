"""Dataset versioning end to end: ``kfops run`` on two DVC revisions, then ``kfops data history``.

A git + DVC project with a local remote holds two revisions of a churn CSV (v1: 200 rows,
v2: all 300). Three real runs: v1 with TFDV validation, v2 without, and v1 again with
--no-cache and the absolute URI form, which must reproduce v1's digest exactly.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from tests.e2e.conftest import Result, kfops, registry

pytestmark = pytest.mark.slow

MODEL = "churn-dvc"
CONFIG = """\
project: churn-dvc
data:
  path: dvc://data/churn.csv@v2
  target: churned
  task: classification
  entity_column: customer_id
  timestamp_column: event_timestamp
model:
  params: {n_estimators: 20, random_state: 0, n_jobs: 1}
registry:
  model_name: churn-dvc
"""


@dataclass
class History:
    project: Path
    state: Path
    commits: dict[str, str]
    runs: list[Result]  # v1, v2, v1 again
    history: Result
    table: Result


def git(root: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def make_project(base: Path, churn: pd.DataFrame) -> tuple[Path, dict[str, str]]:
    from dvc.repo import Repo

    root = base / "churn"
    root.mkdir()
    git(root, "init", "-q")
    git(root, "config", "user.email", "test@kfops.invalid")
    git(root, "config", "user.name", "kfops tests")
    repo = Repo.init(str(root))
    with repo.config.edit() as conf:
        conf["remote"]["local"] = {"url": str(base / "remote")}
        conf["core"]["remote"] = "local"
    (root / "kfops.yaml").write_text(CONFIG)
    data = root / "data" / "churn.csv"
    data.parent.mkdir()
    commits = {}
    for tag, rows in (("v1", 200), ("v2", 300)):
        churn.iloc[:rows].to_csv(data, index=False)
        repo.add(str(data))
        repo.push()
        git(root, "add", "-A")
        git(root, "commit", "-qm", f"churn data {tag}")
        git(root, "tag", tag)
        commits[tag] = git(root, "rev-parse", "HEAD")
    repo.close()
    return root, commits


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory, repo: Path) -> History:
    os.environ.setdefault("DVC_NO_ANALYTICS", "1")
    base = tmp_path_factory.mktemp("history")
    churn = pd.read_csv(repo / "tests" / "fixtures" / "churn_small.csv")
    project, commits = make_project(base, churn)
    state = base / "state"
    config = str(project / "kfops.yaml")
    common = ["--config", config, "--set", f"runtime.root={state}"]
    no_tfdv = ["--set", "validation.enabled=false"]
    runs = [
        kfops("run", *common, "--data", "dvc://data/churn.csv@v1", cwd=project),
        kfops("run", *common, *no_tfdv, "--data", "dvc://data/churn.csv@v2", cwd=project),
        # The absolute form works from any folder; --no-cache makes ingest read v1 again.
        kfops(
            "run",
            *common,
            *no_tfdv,
            "--no-cache",
            "--data",
            f"dvc://{project}/data/churn.csv@v1",
            cwd=base,
        ),
    ]
    found = kfops("data", "history", *common, "--json", cwd=base)
    table = kfops("data", "history", *common, cwd=base)
    return History(project, state, commits, runs, found, table)


def run_of(state: Path, version: str):
    client = registry(state)
    return client.get_run(client.get_model_version(MODEL, version).run_id)


def test_runs_on_each_revision_succeed(history: History) -> None:
    for result in history.runs:
        assert result.code == 0, result.output
    assert "✓ validate" in history.runs[0].stdout
    assert "cached" not in history.runs[2].stdout, "--no-cache read v1 again"


def test_each_run_records_the_dataset_version(history: History) -> None:
    head = git(history.project, "rev-parse", "HEAD")
    for version, tag, rows in (("1", "v1", "200"), ("2", "v2", "300"), ("3", "v1", "200")):
        run = run_of(history.state, version)
        tags = run.data.tags
        assert tags["kfops.dataset.revision"] == history.commits[tag]
        assert tags["kfops.dataset.rows"] == rows
        assert len(tags["kfops.dataset.schema_digest"]) == 64
        assert tags["kfops.dataset.source"].endswith(f"data/churn.csv@{tag}")
        assert tags["mlflow.source.git.commit"] == head
        (used,) = run.inputs.dataset_inputs
        assert used.dataset.source_type == "dvc"
        assert json.loads(used.dataset.source)["revision"] == history.commits[tag]
        assert tags["kfops.dataset.digest"].startswith(used.dataset.digest)


def test_old_revision_reproduces_its_digest(history: History) -> None:
    first, second, again = (run_of(history.state, v).data.tags for v in ("1", "2", "3"))
    assert again["kfops.dataset.digest"] == first["kfops.dataset.digest"]
    assert second["kfops.dataset.digest"] != first["kfops.dataset.digest"]


def test_data_history_lists_both_versions_with_runs_and_models(history: History) -> None:
    assert history.history.code == 0, history.history.output
    found = json.loads(history.history.stdout)
    assert found["experiment"] == "churn-dvc"
    v1, v2 = found["datasets"]
    runs = {v: run_of(history.state, v).info.run_id for v in ("1", "2", "3")}
    assert [r["run_id"] for r in v1["runs"]] == [runs["1"], runs["3"]]
    assert [m["version"] for m in v1["model_versions"]] == ["1", "3"]
    assert [r["run_id"] for r in v2["runs"]] == [runs["2"]]
    assert [m["version"] for m in v2["model_versions"]] == ["2"]
    assert (v1["rows"], v2["rows"]) == (200, 300)
    assert v1["revisions"] == [history.commits["v1"]]
    assert v2["revisions"] == [history.commits["v2"]]
    assert v1["schema_digest"] == v2["schema_digest"], "only rows changed between v1 and v2"
    assert v1["first_seen"] <= v2["first_seen"] <= v1["last_seen"]


def test_data_history_table(history: History) -> None:
    assert history.table.code == 0, history.table.output
    assert "dataset versions" in history.table.stderr  # piped: the title is not a row
    rows = [line.split("\t") for line in history.table.stdout.splitlines()]
    assert rows[0][0] == "digest" and all(len(row) == len(rows[0]) for row in rows)
    for needle in (history.commits["v1"], history.commits["v2"], f"{MODEL} v3"):
        assert needle in history.table.stdout
