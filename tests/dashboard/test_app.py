"""The dashboard's HTTP endpoints (the real application on uvicorn on 127.0.0.1): the page
and its assets with nothing from the network, JSON for each section, one-line errors for bad
input, and commands that run only when allowed, through the engine's command path."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from kfops.config import KfopsConfig
from kfops.dashboard.access import ActionPolicy
from kfops.dashboard.app import STATIC, Dashboard, build_app
from kfops.dashboard.rollouts import LocalRollouts
from kfops.drift.check import DriftReport, FeatureDrift
from kfops.drift.report import write_reports
from kfops.drift.window import Window
from kfops.rollout.drivers.controller import local_command
from kfops.rollout.drivers.store import LocalRolloutStore
from tests.support.rollout_world import world

ACTION = {"x-kfops-action": "1"}


@pytest.fixture
def client(serve):
    """``client(cfg, store, **dashboard options)``: an HTTP client on a served dashboard whose
    commands run the engine on ``store`` with recorded traffic and aliases."""

    def start(cfg: KfopsConfig, store: LocalRolloutStore, **options):
        def steer(name: str, command: str, user: str | None, **arguments) -> None:
            local_command(store, name, command, world(), **arguments)

        return serve(build_app(Dashboard(cfg, LocalRollouts(store), steer=steer, **options)))

    return start


def test_the_page_and_its_assets_come_from_kfops_alone(cfg, store, client) -> None:
    http = client(cfg, store)
    page = http.get("/")
    assert (
        page.status_code == 200 and "default-src 'self'" in page.headers["content-security-policy"]
    )
    for asset in ("static/dashboard.js", "static/dashboard.css"):
        assert f'"{asset}"' in page.text
        assert http.get(f"/{asset}").status_code == 200
    for path in STATIC.iterdir():  # no URL to another host in any asset
        hosts = re.findall(r"https?://[^\s\"'`)]+", path.read_text())
        assert hosts in ([], ["http://www.w3.org/2000/svg"]), (path.name, hosts)


def test_a_project_with_no_runs_says_so_and_creates_no_registry(cfg, store, client) -> None:
    http = client(cfg, store)
    runs = http.get("/api/runs").json()
    assert (
        runs["runs"] == [] and "no runs yet" in runs["message"] and "kfops run" in runs["message"]
    )
    models = http.get("/api/models").json()
    assert models["versions"] == [] and "no registry yet" in models["message"]
    assert not (cfg.state_dir / "mlflow.db").exists()
    drift = http.get("/api/drift").json()
    assert drift["features"] == {} and "`kfops drift` writes one" in drift["message"]


def test_a_rollout_shows_its_steps_weights_and_history(cfg, store, client) -> None:
    http = client(cfg, store)
    (row,) = http.get("/api/rollouts").json()["rollouts"]
    assert (row["name"], row["phase"], row["weight"]) == ("churn", "Paused", 20)
    view = http.get("/api/rollouts/churn").json()
    assert [(s["text"], s["state"]) for s in view["steps"]] == [
        ("setWeight 20", "done"),
        ("pause (until promote)", "current"),
        ("setWeight 60", "pending"),
    ]
    assert (view["model"], view["stable"], view["candidate"]) == ("churn-classifier", "1", "2")
    assert [p["candidate_weight"] for p in view["history"]][-1] == 20


def test_an_unknown_rollout_is_a_one_line_404(cfg, store, client) -> None:
    answer = client(cfg, store).get("/api/rollouts/nope")
    assert answer.status_code == 404
    assert answer.json() == {"error": "no rollout named 'nope' (known: churn)"}


def test_commands_are_refused_while_read_only(cfg, store, client) -> None:
    answer = client(cfg, store).post("/api/rollouts/churn/abort", headers=ACTION)
    assert answer.status_code == 403 and "--allow-actions" in answer.json()["error"]
    assert store.load("churn").status.abort is False


def test_a_command_needs_the_pages_header(cfg, store, client) -> None:
    http = client(cfg, store, policy=ActionPolicy(allow_actions=True))
    answer = http.post("/api/rollouts/churn/abort")  # as a cross-site form would send it
    assert answer.status_code == 403 and "x-kfops-action" in answer.json()["error"]
    assert store.load("churn").status.abort is False


def test_allowed_commands_go_through_the_engine(cfg, store, client) -> None:
    http = client(cfg, store, policy=ActionPolicy(allow_actions=True))
    held = http.post("/api/rollouts/churn/set-weight", headers=ACTION, json={"weight": 35})
    assert held.status_code == 200 and held.json()["weight"] == 35
    aborted = http.post("/api/rollouts/churn/abort", headers=ACTION).json()
    assert (aborted["phase"], aborted["aborted"], aborted["weight"]) == ("Degraded", True, 0)
    assert store.load("churn").status.abort is True


@pytest.mark.parametrize(
    ("command", "body", "status", "error"),
    [
        ("set-weight", {"weight": 101}, 400, "set-weight: weight 101 is outside 0..100"),
        ("set-weight", {"weight": "10"}, 400, "set-weight: weight '10' is outside 0..100"),
        ("explode", {}, 403, "unknown command 'explode'"),
    ],
)
def test_bad_commands_are_one_line_errors(cfg, store, client, command, body, status, error) -> None:
    http = client(cfg, store, policy=ActionPolicy(allow_actions=True))
    answer = http.post(f"/api/rollouts/churn/{command}", headers=ACTION, json=body)
    assert answer.status_code == status and error in answer.json()["error"]


def test_a_command_the_engine_refuses_is_its_one_line_error(cfg, store, client) -> None:
    http = client(cfg, store, policy=ActionPolicy(allow_actions=True))
    http.post("/api/rollouts/churn/abort", headers=ACTION)
    answer = http.post("/api/rollouts/churn/pause", headers=ACTION)
    assert answer.status_code == 409
    assert "\n" not in answer.json()["error"] and "Traceback" not in answer.text


def test_a_stopped_prometheus_is_a_message_not_a_failure(cfg, store, client) -> None:
    answer = client(cfg, store, prometheus="http://127.0.0.1:9").get("/api/serving")
    assert answer.status_code == 200
    assert answer.json()["variants"] == {} and "127.0.0.1:9" in answer.json()["message"]


def test_an_unexpected_failure_is_one_line_without_a_trace(cfg, store, serve) -> None:
    class Broken(LocalRollouts):
        def list(self):
            raise RuntimeError("disk on fire\nsecond line")

    board = Dashboard(cfg, Broken(store))
    answer = serve(build_app(board)).get("/api/rollouts")
    assert answer.status_code == 500
    assert answer.json() == {"error": "/api/rollouts: disk on fire"}


def report(version: str, end: datetime, distance: float) -> DriftReport:
    window = Window(end - timedelta(hours=1), end)
    features = (
        FeatureDrift("contract", "skew", "categorical", distance, 0.1),
        FeatureDrift("age", "drift", "numeric", 0.01, 0.1),
    )
    return DriftReport("churn-classifier", version, window, window.before(), 100, 90, features)


def test_drift_reports_become_one_series_per_feature_and_comparison(cfg, store, client) -> None:
    start = datetime(2026, 12, 1, tzinfo=UTC)
    write_reports(report("1", start + timedelta(days=1), 0.3), cfg.state_dir / "drift")
    retraining = cfg.state_dir / "pipeline_root" / "run-1" / "drift" / "details"
    write_reports(report("1", start, 0.05), retraining)
    drift = client(cfg, store).get("/api/drift").json()
    assert drift["message"] == "" and [r["drifted"] for r in drift["reports"]] == [False, True]
    contract = drift["features"]["contract (skew)"]
    assert [(p["distance"], p["threshold"], p["drifted"]) for p in contract] == [
        (0.05, 0.1, False),
        (0.3, 0.1, True),
    ]
    assert len(drift["features"]["age (drift)"]) == 2


def test_only_registered_plots_are_served(cfg, store, client) -> None:
    answer = client(cfg, store).get("/artifacts/abc/plots/../../etc/passwd")
    assert answer.status_code == 404 and "error" in answer.json()


def test_the_health_check_answers(cfg, store, client) -> None:
    assert client(cfg, store).get("/healthz").text == "ok"


def test_in_the_cluster_rollouts_are_read_as_the_signed_in_user(cfg, store, serve) -> None:
    readers: list[str] = []

    def rollouts_for(user: str) -> LocalRollouts:
        readers.append(user)
        return LocalRollouts(store)

    policy = ActionPolicy(cluster=True)
    http = serve(build_app(Dashboard(cfg, LocalRollouts(store), policy, rollouts_for=rollouts_for)))
    anonymous = http.get("/api/rollouts")
    assert anonymous.status_code == 401 and "kubeflow-userid" in anonymous.json()["error"]
    assert http.get("/api/rollouts/churn").status_code == 401 and readers == []
    signed_in = http.get("/api/rollouts/churn", headers={"kubeflow-userid": "alice@example.com"})
    assert signed_in.status_code == 200 and readers == ["alice@example.com"]
