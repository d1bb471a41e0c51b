"""--replay: a dataset's rows read with kfops' readers and sent, bounded, to a real HTTP
server on 127.0.0.1; stopping it (the rollout ended) ends the sending."""

from __future__ import annotations

import threading
from pathlib import Path

import pandas as pd
import pytest

from kfops.errors import ConfigurationError, DataError
from kfops.rollout.drivers.replay import Replay, ReplayPlan, load_rows
from tests.support.http_server import json_server

FRAME = pd.DataFrame(
    {"tenure": [1, 24, 60], "plan": ["basic", "pro", None], "charges": [9.5, None, 80.0],
     "churned": [1, 0, 0]}
)  # fmt: skip
ROWS = [
    {"tenure": 1, "plan": "basic", "charges": 9.5},
    {"tenure": 24, "plan": "pro", "charges": None},
    {"tenure": 60, "plan": None, "charges": 80.0},
]


@pytest.mark.parametrize("name", ["rows.csv", "rows.parquet"])
def test_rows_come_without_the_target_and_missing_values_are_null(tmp_path: Path, name: str):
    path = tmp_path / name
    FRAME.to_csv(path, index=False) if name.endswith(".csv") else FRAME.to_parquet(path)
    assert load_rows(path, drop=["churned", "not-a-column"]) == ROWS


def test_bad_files_are_one_line_data_errors(tmp_path: Path):
    with pytest.raises(DataError, match=r"--replay .*missing.csv: no such file") as missing:
        load_rows(tmp_path / "missing.csv")
    (tmp_path / "rows.txt").write_text("a,b\n1,2\n")
    with pytest.raises(DataError, match="cannot tell the format"):
        load_rows(tmp_path / "rows.txt")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(DataError, match="no rows to send"):
        load_rows(tmp_path / "empty.csv")
    (tmp_path / "header.csv").write_text("churned\n1\n")
    with pytest.raises(DataError, match="no rows to send"):
        load_rows(tmp_path / "header.csv", drop=["churned"])
    assert "\n" not in str(missing.value)


@pytest.mark.parametrize(("repeats", "rate", "flag"), [(0, 1.0, "--replay-repeats"),
                                                       (1, 0.0, "--replay-rate"),
                                                       (1, float("inf"), "--replay-rate")])  # fmt: skip
def test_bounds_must_be_positive(repeats: int, rate: float, flag: str):
    with pytest.raises(ConfigurationError, match=flag):
        ReplayPlan(ROWS, repeats, rate)


def test_a_bad_flag_is_named_before_the_file_is_read(tmp_path: Path):
    """`kfops rollout start --replay missing.csv --replay-rate 0` names the flag, not the file
    (and reads neither the config nor the rows)."""
    from typer.testing import CliRunner

    from kfops.cli.main import app

    result = CliRunner().invoke(
        app,
        ["rollout", "start", "--config", str(tmp_path / "absent.yaml"),
         "--replay", str(tmp_path / "missing.csv"), "--replay-rate", "0"],
    )  # fmt: skip
    assert result.exit_code != 0
    assert "--replay-rate is 0.0; use requests per second > 0" in result.output
    assert "missing.csv" not in result.output and "absent.yaml" not in result.output


def test_every_row_is_sent_repeats_times_in_order_with_progress():
    bodies: list = []
    with json_server(lambda request: (bodies.append(request.json()) or 200, {})) as url:
        events: list[str] = []
        replay = Replay(f"{url}/v1/models/m:predict", ReplayPlan(ROWS, 4, 200.0, "rows.csv"),
                        events.append).start()  # fmt: skip
        assert replay.wait(timeout=60)  # the thread ends by itself when the rows run out
    assert replay.sent == 12 and replay.ok == 12
    assert bodies == [{"instances": [row]} for row in ROWS * 4]
    assert events[0].startswith("replay: 3 rows x 4 from rows.csv at 200/s (12 requests")
    assert events[-1] == "replay done: 12/12 requests sent, 12 ok, 0 failed"
    assert any(e.startswith("replay: 2/12 requests sent") for e in events[1:-1])


def test_stopping_ends_the_replay_early_and_failures_are_counted():
    seen = threading.Event()

    def answer(request):
        seen.set()
        return 500, {"error": "boom"}

    with json_server(answer) as url:
        events: list[str] = []
        replay = Replay(url, ReplayPlan(ROWS, 10_000, 20.0), events.append).start()
        assert seen.wait(30)
        replay.stop()
    assert replay.done() and 1 <= replay.sent < replay.plan.total
    assert replay.codes[500] == replay.sent and replay.ok == 0
    assert events[-1].startswith("replay stopped with the rollout: ")
    assert events[-1].endswith(f"0 ok, {replay.sent} failed")
