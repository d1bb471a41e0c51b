"""The code digest on a copy of the real packages: an edit to a module changes the digest
of exactly the components that import it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from kfops.runners.code_digest import CodeDigests, imported_names, local_image

REPO = Path(__file__).resolve().parents[2]
TRAINING = ("ingest", "features", "validate", "train", "evaluate", "register", "promote")
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc")


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """kfops and components as a PYTHONPATH copy would hold them, with both locks."""
    shutil.copytree(REPO / "kfops", tmp_path / "kfops", ignore=IGNORE)
    shutil.copytree(REPO / "components", tmp_path / "components", ignore=IGNORE)
    shutil.copy(REPO / "uv.lock", tmp_path / "uv.lock")
    (tmp_path / "runtimes" / "tfdv").mkdir(parents=True)
    shutil.copy(REPO / "runtimes" / "tfdv" / "uv.lock", tmp_path / "runtimes" / "tfdv" / "uv.lock")
    return tmp_path


def digests_of(tree: Path, memo: Path | None = None) -> dict[str, str]:
    digests = CodeDigests(memo, {"kfops": tree / "kfops", "components": tree / "components"})
    return {component: digests.digest(component) for component in (*TRAINING, "drift")}


def changed(before: dict[str, str], after: dict[str, str]) -> set[str]:
    return {component for component in before if before[component] != after[component]}


def append(path: Path, text: str) -> None:
    path.write_text(path.read_text() + text)


def test_a_step_module_edit_changes_only_that_step(tree: Path) -> None:
    before = digests_of(tree)
    append(tree / "kfops" / "steps" / "train.py", "\n# edited\n")
    assert changed(before, digests_of(tree)) == {"train"}


def test_the_tfdv_worker_and_its_lock_count_for_validate_and_drift_only(tree: Path) -> None:
    before = digests_of(tree)
    append(tree / "kfops" / "validation" / "tfdv_worker.py", "\n# edited\n")
    after_worker = digests_of(tree)
    assert changed(before, after_worker) == {"validate", "drift"}
    append(tree / "runtimes" / "tfdv" / "uv.lock", "\n# edited\n")
    assert changed(after_worker, digests_of(tree)) == {"validate", "drift"}


def test_a_module_every_step_imports_changes_every_step(tree: Path) -> None:
    before = digests_of(tree)
    append(tree / "kfops" / "errors.py", "\n# edited\n")
    assert changed(before, digests_of(tree)) == set(before)


def test_the_digest_does_not_depend_on_where_the_tree_lives(tree: Path, tmp_path: Path) -> None:
    moved = tmp_path / "elsewhere"
    shutil.copytree(tree, moved, ignore=shutil.ignore_patterns("elsewhere"))
    assert digests_of(tree) == digests_of(moved)


def test_imports_for_annotations_only_do_not_count() -> None:
    source = b"""
from typing import TYPE_CHECKING
import kfops.errors
if TYPE_CHECKING:
    from kfops.validation.validate import ValidationReport
else:
    import kfops.metrics

def later():
    from .sibling import thing
"""
    names = imported_names(source, "kfops.steps.example", is_package=False)
    assert "kfops.validation.validate" not in names
    assert {"kfops.errors", "kfops.metrics", "kfops.steps.sibling"} <= set(names)
    assert "kfops.steps.sibling.thing" in names  # kept only if a file says it is a module


def test_the_memo_gives_the_same_digests_and_follows_edits(tree: Path, tmp_path: Path) -> None:
    memo = tmp_path / "memo.json"
    fresh = digests_of(tree, memo)
    first = CodeDigests(memo, {"kfops": tree / "kfops", "components": tree / "components"})
    first.digest("train")
    first.memo.save()
    assert memo.is_file()
    assert digests_of(tree, memo) == fresh
    append(tree / "kfops" / "steps" / "train.py", "\nimport kfops.validation.runtime\n")
    after = digests_of(tree, memo)
    assert changed(fresh, after) == {"train"}
    assert after == digests_of(tree)  # the memo answers as parsing would


def test_the_local_image_name_carries_the_digest(tree: Path) -> None:
    digests = CodeDigests(None, {"kfops": tree / "kfops", "components": tree / "components"})
    image = local_image("python:3.11-kfops-local", digests, "train")
    assert image == f"python:3.11-kfops-local-code-{digests.digest('train')}"
