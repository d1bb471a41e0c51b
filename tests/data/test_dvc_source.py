"""dvc://PATH@REV datasets (kfops.data.dvc_source) on a real git + DVC repository.

One repository, built once for the module: two pushed revisions of a CSV (v1, v2), a file
tracked by git alone, and a third revision whose DVC file was never pushed. The local DVC
cache is then deleted, so every read below comes from the local remote, as on a fresh
checkout.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from kfops.config import DataConfig
from kfops.data.dvc_source import dvc_fingerprint, locate, parse_dvc_uri
from kfops.data.ingest import REVISION_ATTR, ingest, read_dataset, schema_digest
from kfops.errors import DataError
from kfops.runners.local import data_fingerprint

os.environ.setdefault("DVC_NO_ANALYTICS", "1")

# Building the repository costs 5-7 s (DVC import, init, three adds): its users are slow.
slow = pytest.mark.slow
CHURN = Path(__file__).resolve().parents[1] / "fixtures" / "churn_small.csv"


@dataclass
class Project:
    root: Path
    frames: dict[str, pd.DataFrame]  # tag -> content of data/churn.csv
    commits: dict[str, str]  # tag -> commit

    def uri(self, rev: str, path: str = "data/churn.csv") -> str:
        return f"dvc://{self.root / path}@{rev}"


def git(root: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def init_git(root: Path) -> None:
    git(root, "init", "-q")
    git(root, "config", "user.email", "test@kfops.invalid")
    git(root, "config", "user.name", "kfops tests")


def commit(root: Path, tag: str) -> str:
    git(root, "add", "-A")
    git(root, "commit", "-qm", tag)
    git(root, "tag", tag)
    return git(root, "rev-parse", "HEAD")


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    from dvc.repo import Repo

    base = tmp_path_factory.mktemp("dvc")
    root, remote = base / "project", base / "remote"
    root.mkdir()
    init_git(root)
    repo = Repo.init(str(root))
    with repo.config.edit() as conf:
        conf["remote"]["local"] = {"url": str(remote)}
        conf["core"]["remote"] = "local"
    churn = pd.read_csv(CHURN)
    frames = {"v1": churn.iloc[:100].reset_index(drop=True), "v2": churn.iloc[100:250]}
    frames["v2"] = frames["v2"].reset_index(drop=True)
    data = root / "data" / "churn.csv"
    data.parent.mkdir()
    commits = {}
    for tag, frame in frames.items():
        frame.to_csv(data, index=False)
        repo.add(str(data))
        repo.push()
        commits[tag] = commit(root, tag)
    (root / "notes.csv").write_text("a,b\n1,2\n")  # in git itself, not in DVC
    (root / "data" / "unpushed.csv").write_text("a,b\n3,4\n")
    repo.add(str(root / "data" / "unpushed.csv"))
    commits["v3"] = commit(root, "v3")
    repo.close()
    shutil.rmtree(root / ".dvc" / "cache")
    return Project(root, frames, commits)


# parse_dvc_uri: pure ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("uri", "path", "rev"),
    [
        ("dvc://data/churn.csv@v1", "data/churn.csv", "v1"),
        ("dvc:///abs/repo/data/churn.csv@HEAD~1", "/abs/repo/data/churn.csv", "HEAD~1"),
        ("dvc://data/a@b.csv@feature/x", "data/a@b.csv", "feature/x"),
        ("DVC://d.parquet@3f2c1a", "d.parquet", "3f2c1a"),
    ],
)
def test_parse_splits_path_and_revision_at_the_last_at(uri: str, path: str, rev: str) -> None:
    assert parse_dvc_uri(uri) == (path, rev)


@pytest.mark.parametrize(
    ("uri", "needle"),
    [
        ("dvc://data/churn.csv", "no revision"),
        ("dvc://data/churn.csv@", "no revision"),
        ("dvc://@v1", "no path"),
        ("dvc://data/churn.csv@-v1", "starts with '-'"),
        ("s3://bucket/churn.csv@v1", "not a dvc:// URI"),
    ],
)
def test_parse_rejects_malformed_uris(uri: str, needle: str) -> None:
    with pytest.raises(DataError, match=needle) as caught:
        parse_dvc_uri(uri)
    assert str(caught.value).startswith(uri) and "\n" not in str(caught.value)


# reading revisions ------------------------------------------------------------------------


@slow
@pytest.mark.parametrize("tag", ["v1", "v2"])
def test_each_revision_reads_its_own_content_from_the_remote(project: Project, tag: str) -> None:
    frame = read_dataset(project.uri(tag))
    pd.testing.assert_frame_equal(frame, project.frames[tag])
    assert frame.attrs[REVISION_ATTR] == project.commits[tag]


@slow
def test_a_commit_reads_the_same_as_its_tag(project: Project) -> None:
    frame = read_dataset(project.uri(project.commits["v1"][:10]))
    pd.testing.assert_frame_equal(frame, project.frames["v1"])


@slow
def test_relative_path_is_from_the_root_of_the_working_directorys_repository(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(project.root / "data")
    frame = read_dataset("dvc://data/churn.csv@v2")
    pd.testing.assert_frame_equal(frame, project.frames["v2"])
    assert locate("dvc://data/churn.csv@v2").repo == project.root.resolve()
    with pytest.raises(DataError, match="outside the DVC repository"):
        locate("dvc://../elsewhere.csv@v2")


@slow
def test_a_file_in_git_itself_reads_too(project: Project) -> None:
    assert read_dataset(project.uri("v3", "notes.csv")).to_dict("list") == {"a": [1], "b": [2]}


# errors: one line naming the URI and the fix -----------------------------------------------


@slow
@pytest.mark.parametrize(
    ("rev", "path", "needles"),
    [
        ("v9", "data/churn.csv", ["unknown revision 'v9'", "git -C"]),
        ("v1", "data/other.csv", ["data/other.csv is not tracked at 'v1'", "dvc add"]),
        ("v1", "notes.csv", ["notes.csv is not tracked at 'v1'"]),  # added to git in v3
        ("v3", "data/unpushed.csv", ["tracked by DVC", "dvc push"]),
    ],
)
def test_bad_revision_or_path_is_a_one_line_data_error(
    project: Project, rev: str, path: str, needles: list[str]
) -> None:
    uri = project.uri(rev, path)
    with pytest.raises(DataError) as caught:
        read_dataset(uri)
    message = str(caught.value)
    assert message.startswith(f"{uri}: ") and "\n" not in message
    for needle in needles:
        assert needle in message


@slow
def test_subdir_project_in_a_larger_git_repository(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dvc.repo import Repo

    init_git(tmp_path)
    project = tmp_path / "teams" / "churn"
    project.mkdir(parents=True)
    repo = Repo.init(str(project), subdir=True)  # `dvc init --subdir`
    (project / "churn.csv").write_text("a,b\n1,2\n")
    repo.add(str(project / "churn.csv"))
    repo.close()
    commit(tmp_path, "s1")
    monkeypatch.chdir(project)
    assert read_dataset("dvc://churn.csv@s1").to_dict("list") == {"a": [1], "b": [2]}
    assert locate("dvc://churn.csv@s1").path == "teams/churn/churn.csv"


@slow
def test_dvc_project_without_git_is_a_data_error(tmp_path: Path) -> None:
    from dvc.repo import Repo

    Repo.init(str(tmp_path), no_scm=True).close()
    with pytest.raises(DataError, match="not in a git repository, so it has no revisions"):
        read_dataset(f"dvc://{tmp_path}/churn.csv@HEAD")


def test_git_repository_without_dvc_is_a_data_error(tmp_path: Path) -> None:
    init_git(tmp_path)
    (tmp_path / "churn.csv").write_text("a,b\n1,2\n")
    with pytest.raises(DataError, match="has no DVC project; run 'dvc init'"):
        read_dataset(f"dvc://{tmp_path}/churn.csv@HEAD")


def test_folder_outside_any_repository_is_a_data_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DataError, match="not inside a DVC repository; run kfops inside one"):
        read_dataset("dvc://churn.csv@v1")


# what a run records ---------------------------------------------------------------------


@slow
def test_fingerprint_follows_the_commit_not_the_spelling(project: Project) -> None:
    v1, v2 = project.uri("v1"), project.uri("v2")
    assert dvc_fingerprint(v1) == dvc_fingerprint(project.uri(project.commits["v1"]))
    assert dvc_fingerprint(v1) != dvc_fingerprint(v2)
    assert data_fingerprint(v1) == dvc_fingerprint(v1), "the local runner's cache key"


@slow
def test_ingest_records_revision_and_schema_digest(project: Project, tmp_path: Path) -> None:
    summaries = {}
    for tag in ("v1", "v2"):
        cfg = DataConfig(path=project.uri(tag), target="churned")
        summaries[tag] = ingest(cfg, str(tmp_path / "train.pq"), str(tmp_path / "test.pq"))
    v1, v2 = summaries["v1"], summaries["v2"]
    assert (v1.revision, v2.revision) == (project.commits["v1"], project.commits["v2"])
    assert (v1.rows, v2.rows) == (100, 150)
    assert v1.digest != v2.digest
    assert v1.schema_digest == v2.schema_digest == schema_digest(project.frames["v1"])
    assert v1.source == project.uri("v1")


@pytest.mark.parametrize(
    ("other", "same"),
    [
        (pd.DataFrame({"b": ["x"], "a": [1]}), True),  # column order does not count
        (pd.DataFrame({"a": [5, 6, 7], "b": ["y", "z", "w"]}), True),  # nor do the values
        (pd.DataFrame({"a": [1.0], "b": ["x"]}), False),  # a retyped column does
        (pd.DataFrame({"a": [1], "c": ["x"]}), False),  # so does a renamed one
        (pd.DataFrame({"a": [1], "b": ["x"], "c": [0]}), False),  # and a new one
    ],
)
def test_schema_digest_is_names_and_dtypes(other: pd.DataFrame, same: bool) -> None:
    base = pd.DataFrame({"a": [1], "b": ["x"]})
    assert (schema_digest(other) == schema_digest(base)) is same
