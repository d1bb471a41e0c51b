import io

import pytest

from kfops.runners.progress import ProgressStream, StepStatus, parse_line, step_name


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            "12:00:00.001 - INFO - Executing task \x1b[96m'ingest'\x1b[0m",
            ("ingest", StepStatus.STARTED),
        ),
        (
            "Task \x1b[96m'train'\x1b[0m finished with status \x1b[92mSUCCESS\x1b[0m",
            ("train", StepStatus.SUCCEEDED),
        ),
        ("Task 'validate' finished with status FAILURE", ("validate", StepStatus.FAILED)),
        (
            "INFO - Task evaluate cache hit (key=abc); skipping execution.",
            ("evaluate", StepStatus.CACHED),
        ),
        ("    some output of a component", None),
    ],
)
def test_parse_line(line, expected):
    assert parse_line(line) == expected


def test_stream_logs_everything_and_times_steps():
    log, events = io.StringIO(), []
    stream = ProgressStream(log, events.append)
    stream.write("Executing task 'ingest'\nhello from the ")
    stream.write("step\nTask 'ingest' finished with status SUCCESS\n")
    assert [(e.step, e.status) for e in events] == [
        ("ingest", StepStatus.STARTED),
        ("ingest", StepStatus.SUCCEEDED),
    ]
    assert events[1].seconds >= 0.0
    assert "hello from the step" in log.getvalue()


def test_step_name_strips_suffix():
    assert step_name("train-2") == "train"
    assert step_name("ingest") == "ingest"


def test_a_long_step_says_what_it_is_doing():
    log, events = io.StringIO(), []
    stream = ProgressStream(log, events.append)
    stream.write("Executing task 'train'\n")
    stream.write("    kfops-progress train: fitting RandomForestClassifier on 5,634 rows\n")
    stream.write("Task 'train' finished with status SUCCESS\n")
    assert [(e.step, e.status, e.detail) for e in events] == [
        ("train", StepStatus.STARTED, ""),
        ("train", StepStatus.PROGRESS, "fitting RandomForestClassifier on 5,634 rows"),
        ("train", StepStatus.SUCCEEDED, ""),
    ]
    assert events[1].seconds >= 0.0
    assert "kfops-progress train" in log.getvalue(), "the log keeps the line too"
