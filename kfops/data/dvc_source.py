"""``dvc://PATH@REV``: read one revision of a dataset kept with DVC in a git repository.

The URI names a file and a revision, nothing else, so it can sit in ``data.path`` or be
passed as ``--data``:

* ``dvc:///home/me/churn/data/churn.csv@v1``: an absolute path; the repository is the DVC
  project that contains the file.
* ``dvc://data/churn.csv@v1``: a path from the root of the DVC project that contains the
  working directory, as ``dvc.api`` reads paths when it is given no repository.

``REV`` is anything git accepts (tag, branch, commit, ``HEAD~1``); the last ``@`` starts
it. It is resolved to a full commit before anything is read, and that commit is what the
run records, so a branch that moves later still names the data a model saw. Reading goes
through ``dvc.api``: from the local DVC cache when the data are there, else from the
remote configured at that revision. docs/data-versioning.md has the whole story.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import pandas as pd

from kfops.config import DataFormat
from kfops.data.formats import REVISION_ATTR, format_of, read_frame
from kfops.errors import DataError, one_line

PREFIX = "dvc://"
FORM = "dvc://PATH@REV, e.g. dvc://data/churn.csv@v1 (a tag, branch or commit)"
GIT_TIMEOUT_S = 30


@dataclass(frozen=True)
class DvcLocation:
    """Where a ``dvc://`` URI points: a file of a repository at one commit."""

    uri: str
    repo: Path  # root of the git repository (of the DVC project, unless `dvc init --subdir`)
    path: str  # POSIX path from ``repo``
    rev: str  # the revision as written in the URI
    commit: str  # the full commit ``rev`` resolves to


def parse_dvc_uri(uri: str) -> tuple[str, str]:
    """``dvc://data/churn.csv@v1`` -> ``("data/churn.csv", "v1")``.

    The last ``@`` separates the revision, so paths may hold ``@`` when a revision is given.
    """
    if not uri.lower().startswith(PREFIX):
        raise DataError(f"{uri}: not a dvc:// URI; write {FORM}")
    path, sep, rev = uri[len(PREFIX) :].rpartition("@")
    if not sep or not rev.strip():
        raise DataError(f"{uri}: no revision; write {FORM}")
    if not path.strip("/"):
        raise DataError(f"{uri}: no path before '@{rev}'; write {FORM}")
    if rev.startswith("-"):
        raise DataError(f"{uri}: revision '{rev}' starts with '-'; use a tag, branch or commit")
    return path, rev


def _project_root(start: Path, uri: str, fix: str) -> Path:
    """The nearest folder at or above ``start`` holding ``.dvc/``; a bare git repo is an error."""
    for folder in (start, *start.parents):
        if (folder / ".dvc").is_dir():
            return folder
        if (folder / ".git").exists():
            raise DataError(
                f"{uri}: the git repository {folder} has no DVC project; run 'dvc init' there "
                "and track the dataset with 'dvc add'"
            )
    raise DataError(f"{uri}: {start} is not inside a DVC repository; {fix}")


def _git(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            ["git", "-C", str(repo), *args],
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise DataError(f"{repo}: cannot run git ({exc}); install git and retry") from exc


def locate(uri: str, cwd: Path | None = None) -> DvcLocation:
    """Find the repository, the path inside it and the commit of a ``dvc://`` URI.

    Runs git only (a few milliseconds), never DVC, so the local runner can fingerprint a
    URI before the pipeline starts.
    """
    path, rev = parse_dvc_uri(uri)
    if os.path.isabs(path):
        target = Path(path).resolve()
        project = _project_root(target.parent, uri, "point at a file of a git repository with DVC")
    else:
        fix = "run kfops inside one, or write an absolute path: dvc:///path/to/file.csv@REV"
        project = _project_root((cwd or Path.cwd()).resolve(), uri, fix)
        target = (project / path).resolve()
    if not target.is_relative_to(project):
        raise DataError(
            f"{uri}: {target} is outside the DVC repository {project}; give a path inside it"
        )
    # dvc.api reads a revision of a `dvc init --subdir` project only from the git root.
    top = _git(project, "rev-parse", "--show-toplevel")
    if top.returncode != 0 or not top.stdout.strip():
        raise DataError(
            f"{uri}: the DVC project {project} is not in a git repository, so it has no "
            "revisions; run 'git init' there and commit"
        )
    repo = Path(top.stdout.strip()).resolve()
    inner = target.relative_to(repo).as_posix()
    done = _git(repo, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")
    commit = done.stdout.strip()
    if done.returncode != 0 or not commit:
        raise DataError(
            f"{uri}: unknown revision '{rev}' in {repo}; use a tag, branch or commit listed "
            f"by 'git -C {repo} log --oneline --decorate'"
        )
    return DvcLocation(uri=uri, repo=repo, path=inner, rev=rev, commit=commit)


def dvc_fingerprint(uri: str) -> str:
    """SHA-256 of repository, path and resolved commit: the step-cache key of a dvc:// URI.

    ``@v1`` and ``@<the commit v1 tags>`` give the same fingerprint; a branch that moved
    gives a new one, so the cache never serves another revision's data.
    """
    where = locate(uri)
    return hashlib.sha256(f"dvc\0{where.repo}\0{where.path}\0{where.commit}".encode()).hexdigest()


def _tracked_by_dvc(where: DvcLocation) -> bool:
    """Whether a ``.dvc`` file for the path, or for a folder above it, exists at the commit."""
    parts = PurePosixPath(where.path).parts
    candidates = ["/".join(parts[:n]) + ".dvc" for n in range(len(parts), 0, -1)]
    return any(
        _git(where.repo, "cat-file", "-e", f"{where.commit}:./{c}").returncode == 0
        for c in candidates
    )


def _missing(where: DvcLocation) -> DataError:
    at = f"'{where.rev}' ({where.commit[:12]})"
    if _tracked_by_dvc(where):
        return DataError(
            f"{where.uri}: {where.path} is tracked by DVC at {at} but its data are in neither "
            f"the DVC cache nor the remote; run 'dvc push' from a checkout of {where.rev} "
            "that has the data"
        )
    return DataError(
        f"{where.uri}: {where.path} is not tracked at {at} in {where.repo}; check the path "
        "and the revision, or 'dvc add' the file and commit"
    )


def _fetch(where: DvcLocation, dest: Path) -> None:
    import dvc.api
    from dvc.exceptions import DvcException, PathMissingError

    try:
        with (
            dvc.api.open(where.path, repo=str(where.repo), rev=where.commit, mode="rb") as src,
            dest.open("wb") as out,
        ):
            shutil.copyfileobj(src, out, 1 << 20)
    except PathMissingError as exc:
        raise _missing(where) from exc
    except IsADirectoryError as exc:
        raise DataError(
            f"{where.uri}: {where.path} is a folder; point at one CSV or Parquet file in it"
        ) from exc
    except (DvcException, OSError) as exc:
        first = one_line(exc)
        raise DataError(
            f"{where.uri}: DVC cannot read {where.path} at '{where.rev}' ({first}); check "
            f"the remote with 'dvc remote list' and 'dvc status -c' in {where.repo}"
        ) from exc


def read_dvc(uri: str, fmt: DataFormat) -> pd.DataFrame:
    """Read the file at the URI's revision; the commit read goes in ``frame.attrs``."""
    where = locate(uri)
    fmt = format_of(Path(where.path), fmt, source=uri)
    with tempfile.TemporaryDirectory(prefix="kfops-dvc-") as tmp:
        # Same file name as in the repository: pandas infers compression (.csv.gz) from it.
        local = Path(tmp) / PurePosixPath(where.path).name
        _fetch(where, local)
        frame = read_frame(local, fmt, uri)
    frame.attrs[REVISION_ATTR] = where.commit
    return frame
