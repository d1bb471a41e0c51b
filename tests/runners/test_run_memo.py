"""The run memo answers a run only when every step would be a cache hit: the same key
(config, data, code, locks), kfp.local's cache entries as the memo's run left them, and
a graph whose every task may be cached. Anything else asks kfp.local."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from kfops.config import load_config
from kfops.runners import run_memo
from kfops.runners.code_digest import CodeDigests
from kfops.runners.compile import pipeline_builder

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "churn" / "kfops.yaml"
STEPS = ["ingest", "features", "validate", "train", "evaluate", "register", "promote"]


@pytest.fixture
def cfg(tmp_path: Path):
    return load_config(EXAMPLE, [f"runtime.root={tmp_path / 'state'}"])


def key(cfg, fingerprint: str = "f" * 64) -> str:
    return run_memo.run_key(cfg, fingerprint, "training", CodeDigests())


def spec(cfg):
    return pipeline_builder(cfg)(lambda component: "python:3.11").pipeline_spec


def test_a_memo_answers_the_same_key_while_the_cache_entries_stay(cfg) -> None:
    state = Path(cfg.runtime.root)
    (state / "cache").mkdir(parents=True)
    entry = state / "cache" / "abc.json"
    entry.write_text("{}")
    run_memo.remember(state, key(cfg), STEPS, {"run_id": "r1", "decision": "promote"}, spec(cfg))
    memo = run_memo.recall(state, key(cfg))
    assert memo is not None and memo["steps"] == STEPS and memo["outputs"]["run_id"] == "r1"

    assert run_memo.recall(state, key(cfg, "0" * 64)) is None  # other data
    other = load_config(EXAMPLE, [f"runtime.root={state}", "validation.min_rows=3"])
    assert key(other) != key(cfg)  # another setting
    os.utime(entry, ns=(1, 1))  # an entry rewritten
    assert run_memo.recall(state, key(cfg)) is None
    run_memo.remember(state, key(cfg), STEPS, {"run_id": "r1"}, spec(cfg))
    entry.unlink()  # an entry removed
    assert run_memo.recall(state, key(cfg)) is None


def test_the_key_covers_the_code_the_pipeline_and_its_steps_import(tmp_path: Path, cfg) -> None:
    import shutil

    for package in ("kfops", "components", "pipelines"):
        shutil.copytree(REPO / package, tmp_path / "src" / package)
    dirs = {name: tmp_path / "src" / name for name in ("kfops", "components")}
    before = run_memo.run_key(cfg, "f", "training", CodeDigests(None, dirs))
    train = tmp_path / "src" / "kfops" / "steps" / "train.py"
    train.write_text(train.read_text() + "\n# edited\n")
    after = run_memo.run_key(cfg, "f", "training", CodeDigests(None, dirs))
    assert before != after


def test_no_memo_for_a_graph_with_an_uncached_task_or_outputs_not_json(cfg) -> None:
    state = Path(cfg.runtime.root)
    (state / "cache").mkdir(parents=True)
    (state / "cache" / "abc.json").write_text("{}")
    graph = spec(cfg)
    assert run_memo.all_tasks_cached(graph)
    graph.root.dag.tasks["train"].caching_options.enable_cache = False
    run_memo.remember(state, key(cfg), STEPS, {"run_id": "r1"}, graph)
    assert not (state / run_memo.MEMO_FILE).exists()
    run_memo.remember(state, key(cfg), STEPS, {"model": object()}, spec(cfg))
    assert not (state / run_memo.MEMO_FILE).exists()
    assert run_memo.recall(state, key(cfg)) is None


def test_which_runs_may_use_a_memo(cfg, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(run_memo.MEMO_ENV, raising=False)
    assert run_memo.eligible(cfg, {}, "subprocess")
    assert not run_memo.eligible(cfg, {"force": False}, "subprocess")
    assert not run_memo.eligible(cfg, {}, "docker")
    uncached = cfg.model_copy(update={"runtime": cfg.runtime.model_copy(update={"caching": False})})
    assert not run_memo.eligible(uncached, {}, "subprocess")
    monkeypatch.setenv(run_memo.MEMO_ENV, "0")
    assert not run_memo.eligible(cfg, {}, "subprocess")


def test_a_memo_file_that_is_not_one_is_a_miss(cfg) -> None:
    state = Path(cfg.runtime.root)
    state.mkdir(parents=True)
    (state / run_memo.MEMO_FILE).write_text("not json")
    assert run_memo.recall(state, key(cfg)) is None
    (state / run_memo.MEMO_FILE).write_text(json.dumps({"key": key(cfg), "cache": {}}))
    assert run_memo.recall(state, key(cfg)) is None
