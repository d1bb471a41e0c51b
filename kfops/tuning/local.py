"""The embedded tuner: the Katib spec run by optuna, trials in parallel processes.

The main process owns the optuna study: it asks for up to ``parallel_trial_count``
assignments, hands each to a worker process (a fit holds the GIL for much of its time, so
threads would not run trials side by side), and tells the study each result as it comes
back. With early stopping on, the study lives in a journal file that the workers open too:
a worker reports the running CV mean after each fold and asks optuna's MedianPruner whether
to stop (Katib's medianstop). Katib's limits hold: at most ``max_trial_count`` trials, and
a failed trial is counted, tuning stopping only once failures exceed
``max_failed_trial_count`` (limit 2: the third failure stops it).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import sys
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna

from kfops.config import EarlyStopping, KfopsConfig, TaskType, config_from_dict, config_to_dict
from kfops.errors import KfopsError, TrainingError, one_line
from kfops.tuning.objective import TrialScore, cross_validate
from kfops.tuning.progress import TuningProgress
from kfops.tuning.results import TrialRecord, TrialState, TuningResult, best_record
from kfops.tuning.samplers import build_sampler, distributions
from kfops.tuning.spec import (
    check_tuning,
    goal_reached,
    objective_direction,
    objective_metric,
    parse_assignments,
    require_tuning,
)

TrialCallback = Callable[[TrialRecord], None]
STUDY_NAME = "kfops-tuning"
START_METHOD = "fork" if sys.platform == "linux" else "spawn"
"""fork: workers start with pandas and scikit-learn already imported (a spawned worker
spends 5-15 s importing them). CPython forks all of a pool's workers at its first submit,
before its manager thread starts, and the progress bar's thread starts after that."""
JOURNAL_FILE = "optuna-journal.log"


@dataclass(frozen=True)
class TrialJob:
    """What a worker process needs to run one trial; plain values, so it pickles."""

    config: dict[str, Any]
    train_path: str
    task: str
    metric: str
    number: int
    assignments: dict[str, str]
    journal: str | None


_FRAMES: dict[str, Any] = {}  # per worker process: the training split, read once


def run_trial_job(job: TrialJob) -> TrialScore:
    """Worker entry point: cross-validate one assignment, reporting folds when pruning."""
    import pandas as pd

    cfg = config_from_dict(job.config)
    tuning = require_tuning(cfg)
    if job.train_path not in _FRAMES:
        _FRAMES[job.train_path] = pd.read_parquet(job.train_path)
    params = parse_assignments(tuning, job.assignments)
    report = None
    if job.journal and tuning.early_stopping:
        storage = _journal(job.journal)
        study = optuna.load_study(
            study_name=STUDY_NAME, storage=storage, pruner=median_pruner(tuning.early_stopping)
        )
        study_id = storage.get_study_id_from_name(STUDY_NAME)
        trial = optuna.trial.Trial(
            study, storage.get_trial_id_from_study_id_trial_number(study_id, job.number)
        )

        def report(step: int, value: float) -> bool:
            trial.report(value, step)
            return trial.should_prune()

    frame = _FRAMES[job.train_path]
    return cross_validate(frame, cfg, TaskType(job.task), job.metric, params, report)


def median_pruner(rule: EarlyStopping) -> optuna.pruners.MedianPruner:
    """Katib medianstop -> MedianPruner. Steps are folds counted from 0, Katib counts reports
    from 1: start_step 2 means the rule first applies after the second fold (step 1)."""
    return optuna.pruners.MedianPruner(
        n_startup_trials=rule.min_trials_required, n_warmup_steps=rule.start_step - 1
    )


def _journal(path: str) -> optuna.storages.JournalStorage:
    from optuna.storages.journal import JournalFileBackend

    return optuna.storages.JournalStorage(JournalFileBackend(path))


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, KfopsError):
        return exc.message
    return one_line(f"{type(exc).__name__}: {exc}")


def tune_locally(
    cfg: KfopsConfig,
    train_path: str,
    task: TaskType,
    workdir: str,
    on_trial: TrialCallback | None = None,
    show_progress: bool = True,
) -> TuningResult:
    """Run the ``tuning:`` section on the training split at ``train_path`` (Parquet).

    Raises:
        ConfigurationError: the spec cannot run locally (hyperband, a missing sampler package).
        TrainingError: failures exceeded ``max_failed_trial_count``, or no trial succeeded.
    """
    tuning = require_tuning(cfg)
    check_tuning(cfg, task)
    metric = objective_metric(cfg, task)
    direction = objective_direction(tuning, metric)
    sampler = build_sampler(tuning, cfg.data.split.seed)
    space = distributions(tuning)
    journal = None
    if tuning.early_stopping:
        journal = str(Path(workdir) / JOURNAL_FILE)
        Path(journal).unlink(missing_ok=True)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        study_name=STUDY_NAME,
        storage=_journal(journal) if journal else None,
        sampler=sampler,
        direction=direction.value,
        pruner=median_pruner(tuning.early_stopping) if tuning.early_stopping else None,
    )
    config = config_to_dict(cfg)
    records: list[TrialRecord] = []
    running: dict[Future[TrialScore], tuple[optuna.trial.Trial, dict[str, str], float]] = {}
    started, stopped, failure = time.monotonic(), "", ""
    context = multiprocessing.get_context(START_METHOD)
    progress = TuningProgress(tuning.max_trial_count, metric) if show_progress else None
    best: float | None = None
    with (
        ProcessPoolExecutor(tuning.parallel_trial_count, mp_context=context) as pool,
        progress or contextlib.nullcontext(),
    ):
        asked = 0
        while True:
            while not stopped and len(running) < tuning.parallel_trial_count:
                if asked >= tuning.max_trial_count:
                    break
                trial = study.ask(space)
                assignments = {k: str(v) for k, v in trial.params.items()}
                job = TrialJob(
                    config, train_path, task.value, metric, trial.number, assignments, journal
                )
                running[pool.submit(run_trial_job, job)] = (trial, assignments, time.monotonic())
                asked += 1
            if not running:
                break
            left = tuning.timeout_seconds - (time.monotonic() - started)
            if left <= 0 and not stopped:
                stopped = "timeout"  # start no new trials; the running ones finish
            limit = None if stopped else left
            done, _ = wait(running, timeout=limit, return_when=FIRST_COMPLETED)
            for future in done:
                trial, assignments, begun = running.pop(future)
                record = _finish(study, trial, assignments, future, time.monotonic() - begun)
                records.append(record)
                if on_trial is not None:
                    on_trial(record)
                found = best_record(records, direction)
                best = found.value if found else None
                failed = sum(r.state is TrialState.FAILED for r in records)
                if failed > tuning.max_failed_trial_count and not failure:
                    failure = f"{failed} trials failed, last: {record.error}"
                    stopped = "failures"
                elif goal_reached(best, tuning.objective.goal, direction) and not stopped:
                    stopped = "goal"
                if progress:
                    progress.update(len(records), best, record.state.value)
    if failure:
        raise TrainingError(
            f"tuning stopped: more trials failed than tuning.max_failed_trial_count="
            f"{tuning.max_failed_trial_count} ({failure}); fix the search space or raise "
            "tuning.max_failed_trial_count"
        )
    winner = best_record(records, direction)
    if winner is None or winner.value is None:
        last = next((r.error for r in reversed(records) if r.error), "no trial finished")
        raise TrainingError(
            f"tuning: none of {len(records)} trials succeeded (last failure: {last}); "
            "fix the search space or tuning.timeout_seconds"
        )
    return TuningResult(
        backend="local",
        metric=metric,
        direction=direction,
        best_params=parse_assignments(tuning, winner.assignments),
        best_value=winner.value,
        best_trial=winner.name,
        trials=sorted(records, key=lambda r: r.number),
        stopped="" if stopped == "failures" else stopped,
    )


def _finish(
    study: optuna.Study,
    trial: optuna.trial.Trial,
    assignments: dict[str, str],
    future: Future[TrialScore],
    seconds: float,
) -> TrialRecord:
    """Tell the study how a trial ended and describe it as a record."""
    record = TrialRecord(
        number=trial.number,
        name=f"trial-{trial.number}",
        assignments=assignments,
        state=TrialState.SUCCEEDED,
        seconds=seconds,
    )
    try:
        outcome = future.result()
    except BrokenProcessPool as exc:
        raise TrainingError(
            "tuning: a trial's worker process died (out of memory?); lower "
            "tuning.parallel_trial_count or the model's size"
        ) from exc
    except Exception as exc:  # the trial's own failure, from any library
        study.tell(trial, state=optuna.trial.TrialState.FAIL)
        record.state, record.error = TrialState.FAILED, _error_text(exc)
        return record
    record.value, record.intermediate = outcome.value, list(outcome.intermediate)
    if outcome.pruned:
        study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        record.state = TrialState.EARLY_STOPPED
    else:
        study.tell(trial, outcome.value)
    return record
