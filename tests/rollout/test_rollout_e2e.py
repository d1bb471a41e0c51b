"""Rollouts with real parts: kfops model servers (processes), the router, a real Prometheus
(1 s scrape), a real MLflow registry, and the controller, under bounded concurrent load.

The stable server serves a healthy version; candidates are healthy, erroring (every call
raises inside the model) or slow (the model sleeps). Analysis queries read the router's
per-variant metrics through Prometheus, exactly as a user's AnalysisTemplate would.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import yaml

from kfops.config.rollout import RolloutPlan
from kfops.rollout.backends.aliases import MlflowAliases
from kfops.rollout.backends.router_traffic import LocalRouterTraffic
from kfops.rollout.drivers.controller import World, prometheus_measure, run_local
from kfops.rollout.drivers.store import LocalRolloutStore, RolloutRecord
from kfops.rollout.engine.actions import MoveAlias
from kfops.rollout.engine.status import AnalysisPhase, RolloutPhase, RolloutStatus
from kfops.rollout.providers.prometheus import query, wait_until_scraped
from kfops.rollout.router.proxy import start_router
from tests.support.model_servers import (
    ERRORING,
    HEALTHY,
    MODEL_NAME,
    SLOW,
    build_model_folders,
    feature_rows,
    launch_model_server,
    register_versions,
)
from tests.support.prometheus import prometheus_binary, running_prometheus

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(prometheus_binary() is None, reason="needs prometheus (apt-get install)"),
]

PREDICT = f"/v1/models/{MODEL_NAME}:predict"
SLOW_DELAY_S = 0.4
CANDIDATE = 'variant="candidate",role="served",kind="predict"'
ERROR_RATE = (
    f'(sum(rate(kfops_router_requests_total{{{CANDIDATE},code=~"5.."}}[5s])) or vector(0))'
    f" / sum(rate(kfops_router_requests_total{{{CANDIDATE}}}[5s]))"
)
P90_LATENCY = (
    "histogram_quantile(0.9, sum by (le) (rate("
    f"kfops_router_request_duration_seconds_bucket{{{CANDIDATE}}}[5s])))"
)
MIRRORED = 'sum(increase(kfops_router_requests_total{variant="candidate",role="mirror"}[10s]))'


def metric(
    name: str, promql: str, *, success: str, failure: str, count: int = 3, delay: str = "3s"
) -> dict:
    return {
        "name": name,
        "provider": {"prometheus": {"query": promql, "timeoutSeconds": 5}},
        "interval": "2s",
        "count": count,
        "initialDelay": delay,
        "successCondition": success,
        "failureCondition": failure,
    }


TEMPLATES = [
    {"name": "error-rate", "metrics": [metric("error-rate", ERROR_RATE,
                                              success="result[0] <= 0.05",
                                              failure="result[0] > 0.05")]},
    {"name": "latency", "metrics": [metric("p90-latency", P90_LATENCY,
                                           success="result[0] <= 0.25",
                                           failure="result[0] > 0.25")]},
    {"name": "mirrored", "metrics": [metric("mirrored-requests", MIRRORED, count=1, delay="5s",
                                            success="result[0] >= 1",
                                            failure="len(result) == 0")]},
]  # fmt: skip


# -- the parts ----------------------------------------------------------------------------------


@dataclass
class Parts:
    tracking_uri: str
    versions: dict[str, str]  # behaviour -> registered version (healthy stable is "stable")
    servers: dict[str, str]  # behaviour -> URL


@pytest.fixture(scope="module")
def parts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Parts]:
    """One registry with four versions and four kfops servers, started together."""
    root = tmp_path_factory.mktemp("rollout-e2e")
    folders = build_model_folders(root / "models", delay_s=SLOW_DELAY_S)
    uri = f"sqlite:///{root / 'mlflow.db'}"
    order = ["stable", HEALTHY, ERRORING, SLOW]
    numbers = register_versions(
        uri, MODEL_NAME, [folders[HEALTHY], folders[HEALTHY], folders[ERRORING], folders[SLOW]]
    )  # the first version is the champion
    versions = dict(zip(order, numbers, strict=True))
    handles = {
        key: launch_model_server(
            f"models:/{MODEL_NAME}/{versions[key]}", "stable" if key == "stable" else "candidate",
            tracking_uri=uri, log_dir=root / "logs",
        )
        for key in order
    }  # fmt: skip
    try:
        for handle in handles.values():
            handle.wait_ready(240)
        yield Parts(uri, versions, {key: h.url for key, h in handles.items()})
    finally:
        for handle in handles.values():
            handle.stop()


@dataclass
class Load:
    """Bounded concurrent clients through the router; every answer is kept."""

    url: str
    workers: int = 4
    answers: list[tuple[str, int, str]] = field(default_factory=list)  # variant, code, version
    failures: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    max_requests: int = 20_000
    sticky_header: str | None = None  # send one of 40 subject keys in this header
    seen: list[tuple[float, str, str]] = field(default_factory=list)  # time, key, variant

    def _work(self, rows: list[dict]) -> None:
        with httpx.Client(timeout=10) as client:
            for index in range(self.max_requests // self.workers):
                if self.stop.is_set():
                    return
                key = f"user-{(index * 7 + len(self.answers)) % 40}"
                headers = {self.sticky_header: key} if self.sticky_header else {}
                try:
                    answer = client.post(
                        self.url + PREDICT, json={"instances": [rows[index % 4]]}, headers=headers
                    )
                except httpx.HTTPError as exc:
                    self.failures.append(repr(exc))
                    continue
                version = answer.json().get("model_version", "") if answer.is_success else ""
                variant = answer.headers.get("x-kfops-variant", "?")
                self.answers.append((variant, answer.status_code, version))
                if self.sticky_header:
                    self.seen.append((time.time(), key, variant))
                time.sleep(0.01)

    def __enter__(self) -> Load:
        rows = feature_rows(4)
        self.threads = [threading.Thread(target=self._work, args=(rows,), daemon=True)
                        for _ in range(self.workers)]  # fmt: skip
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=30)

    def codes(self, variant: str) -> Counter:
        return Counter(code for v, code, _ in self.answers if v == variant)


@dataclass
class Stage:
    store: LocalRolloutStore
    world: World
    router_url: str
    prometheus_url: str
    aliases: MlflowAliases
    events: list[str] = field(default_factory=list)


@pytest.fixture
def stage(parts: Parts, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Stage]:
    """A router in front of stable and the candidate the test names, and a Prometheus."""
    behaviour = request.param
    with start_router(parts.servers["stable"], parts.servers[behaviour]) as router:
        targets = {"router": [router.url.removeprefix("http://")]}
        with running_prometheus(targets, tmp_path / "prometheus") as prometheus:
            wait_until_scraped(prometheus.url, "router", timeout=30)
            aliases = MlflowAliases(parts.tracking_uri)
            world = World(LocalRouterTraffic(router.url), aliases, prometheus_measure)
            yield Stage(LocalRolloutStore(tmp_path), world, router.url, prometheus.url, aliases)
    # A promoted candidate took the alias: give it back for the next scenario.
    MlflowAliases(parts.tracking_uri).apply(
        MoveAlias(MODEL_NAME, "champion", parts.versions["stable"])
    )


def begin(stage: Stage, parts: Parts, behaviour: str, steps: list[dict], **extra) -> None:
    plan = RolloutPlan.model_validate({
        "strategy": {"canary": {"steps": steps, **extra}},
        "analysisTemplates": TEMPLATES,
        "prometheus": {"address": stage.prometheus_url},
        "traffic": {"routerUrl": stage.router_url},
    })  # fmt: skip
    spec = plan.resolve(MODEL_NAME, parts.versions["stable"], parts.versions[behaviour])
    stage.store.save(RolloutRecord(name="r", spec=spec, status=RolloutStatus.initial(spec)))


def drive(stage: Stage, max_ticks: int = 240, **options) -> RolloutRecord:
    """The controller, ticking every 0.25 s; its event lines are kept in ``stage.events``."""
    return run_local(stage.store, "r", stage.world, interval=0.25, max_ticks=max_ticks,
                     on_event=stage.events.append, **options)  # fmt: skip


def router_traffic(stage: Stage) -> dict:
    return httpx.get(stage.router_url + "/router/traffic").json()


# -- the scenarios ------------------------------------------------------------------------------


@pytest.mark.parametrize("stage", [HEALTHY], indirect=True)
def test_a_healthy_candidate_is_promoted_and_the_alias_moves(stage: Stage, parts: Parts) -> None:
    begin(stage, parts, HEALTHY, [{"setWeight": 30}, {"analysis": {"templates": [
        {"templateName": "error-rate"}]}}, {"setWeight": 60}, {"pause": {"duration": "2s"}}],
        analysis={"templates": [{"templateName": "latency"}], "startingStep": 1})  # fmt: skip
    with Load(stage.router_url) as load:
        record = drive(stage)
    status = record.status
    assert status.phase == RolloutPhase.HEALTHY, (status.message, stage.events)
    assert stage.aliases.version(MODEL_NAME, "champion") == parts.versions[HEALTHY]
    assert router_traffic(stage)["candidateWeight"] == 100
    assert load.failures == [] and all(code == 200 for _, code, _ in load.answers)
    assert load.codes("candidate")[200] > 0 and load.codes("stable")[200] > 0
    step_run = status.run("step-1")
    assert step_run.phase == AnalysisPhase.SUCCESSFUL
    assert step_run.metric_results[0].successful == 3
    # The analysis really measured the candidate's traffic: an error rate of 0, not absent.
    assert step_run.metric_results[0].measurements[-1].value == [0.0]


@pytest.mark.parametrize("stage", [ERRORING], indirect=True)
def test_an_erroring_candidate_is_aborted_and_stable_never_fails(
    stage: Stage, parts: Parts
) -> None:
    champion = stage.aliases.version(MODEL_NAME, "champion")
    begin(stage, parts, ERRORING, [{"setWeight": 25}, {"pause": {"duration": "30s"}},
                                   {"setWeight": 100}],
          analysis={"templates": [{"templateName": "error-rate"}]})  # fmt: skip
    with Load(stage.router_url) as load:
        record = drive(stage)
        after_abort = len(load.answers)
        time.sleep(1.5)  # traffic after the abort: stable only
    status = record.status
    assert status.phase == RolloutPhase.DEGRADED and status.abort, status.message
    background = status.run("background")
    assert background.phase == AnalysisPhase.FAILED
    result = background.metric_results[0]
    # Aborted within two analysis intervals: at most two measurements were taken.
    assert result.failed == 1 and result.count <= 2, result
    assert router_traffic(stage)["candidateWeight"] == 0
    assert stage.aliases.version(MODEL_NAME, "champion") == champion
    assert load.failures == []
    assert set(load.codes("stable")) == {200}, load.codes("stable")
    assert load.codes("candidate")[500] > 0  # it did get traffic, and failed it
    # Requests in flight at the abort (one per client thread at most) may still come back
    # from the candidate; every later one is stable's.
    later = load.answers[after_abort + load.workers :]
    assert later and {variant for variant, _, _ in later} == {"stable"}


@pytest.mark.parametrize("stage", [SLOW], indirect=True)
def test_a_slow_candidate_is_aborted_by_its_latency(stage: Stage, parts: Parts) -> None:
    begin(stage, parts, SLOW, [{"setWeight": 40}, {"analysis": {"templates": [
        {"templateName": "latency"}]}}, {"setWeight": 100}])  # fmt: skip
    with Load(stage.router_url) as load:
        record = drive(stage)
    status = record.status
    assert status.phase == RolloutPhase.DEGRADED, status.message
    latency = status.run("step-1").metric_results[0]
    assert latency.phase == AnalysisPhase.FAILED
    assert latency.measurements[-1].value[0] > 0.25  # the 0.4 s model, seen through the router
    assert router_traffic(stage)["candidateWeight"] == 0
    assert set(load.codes("stable")) == {200} and load.failures == []


@pytest.mark.parametrize("stage", [HEALTHY], indirect=True)
def test_shadow_traffic_reaches_the_candidate_and_clients_see_only_stable(
    stage: Stage, parts: Parts
) -> None:
    begin(stage, parts, HEALTHY, [{"setMirror": {"percent": 100}}, {"analysis": {"templates": [
        {"templateName": "mirrored"}]}}, {"pause": {}}])  # fmt: skip
    with Load(stage.router_url) as load:
        record = drive(stage, until=lambda r: r.status.current_step_index >= 2)
    assert record.status.run("step-1").phase == AnalysisPhase.SUCCESSFUL
    assert router_traffic(stage)["mirrorPercent"] == 100
    mirrored = query(stage.prometheus_url,
                     'sum(kfops_router_requests_total{variant="candidate",role="mirror",code="200"})')  # fmt: skip
    assert mirrored and mirrored[0] > 0
    assert {variant for variant, _, _ in load.answers} == {"stable"}
    assert {version for _, _, version in load.answers} == {parts.versions["stable"]}
    assert load.failures == []


def variant_query(code: str = "") -> str:
    selector = 'variant="{{variant}}",role="served",kind="predict"' + code
    return f"(sum(increase(kfops_router_requests_total{{{selector}}}[1m])) or vector(0))"


@pytest.mark.parametrize("stage", [ERRORING], indirect=True)
def test_an_ab_experiment_splits_by_subject_and_its_test_rejects_the_worse_variant(
    stage: Stage, parts: Parts
) -> None:
    comparison = {
        "metric": "success-rate",
        "test": "two-proportion-z",
        "successQuery": variant_query(',code="200"'),
        "totalQuery": variant_query(),
    }
    begin(stage, parts, ERRORING, [{"experiment": {
        "duration": "8s", "weight": 50, "stickyKey": {"header": "x-user"},
        "comparison": comparison}}, {"setWeight": 100}])  # fmt: skip
    with Load(stage.router_url, sticky_header="x-user") as load:
        record = drive(stage)
    status = record.status
    assert status.phase == RolloutPhase.DEGRADED, (status.message, stage.events)
    result = status.experiment.result
    assert result.test == "two-proportion-z" and result.p_value < 0.001
    assert result.winner == "stable" and result.decision == "candidate-worse"
    assert result.variants["candidate"]["successes"] == 0
    # Sticky: during the experiment, every subject saw one variant only; both had some.
    subjects: dict[str, set[str]] = {}
    for when, key, variant in load.seen:
        if status.experiment.started_at + 0.5 < when < status.aborted_at - 0.5:
            subjects.setdefault(key, set()).add(variant)
    assert len(subjects) == 40 and all(len(seen) == 1 for seen in subjects.values()), subjects
    assert {next(iter(seen)) for seen in subjects.values()} == {"stable", "candidate"}
    assert router_traffic(stage)["candidateWeight"] == 0
    assert set(load.codes("stable")) == {200}


@pytest.mark.parametrize("stage", [HEALTHY], indirect=True)
def test_a_killed_controller_resumes_at_its_step(
    stage: Stage, parts: Parts, tmp_path: Path
) -> None:
    begin(stage, parts, HEALTHY, [{"setWeight": 20}, {"pause": {"duration": "3s"}},
                                  {"setWeight": 50}, {"pause": {"duration": "3s"}},
                                  {"setWeight": 80}, {"pause": {"duration": "3s"}}])  # fmt: skip
    config = tmp_path / "kfops.yaml"
    config.write_text(yaml.safe_dump({
        "project": "rollout-e2e", "data": {"path": "unused.csv", "target": "churned"},
        "runtime": {"root": str(tmp_path)}, "tracking": {"uri": parts.tracking_uri},
    }))  # fmt: skip
    kfops = str(Path(sys.executable).parent / "kfops")
    argv = [kfops, "rollout", "run", "r", "--config", str(config), "--interval", "0.25"]
    controller = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"})  # fmt: skip
    try:
        for _ in range(600):  # until it reached the second pause, then kill -9
            if stage.store.load("r").status.current_step_index >= 3:
                break
            time.sleep(0.1)
        controller.send_signal(signal.SIGKILL)
        controller.wait(timeout=30)
    finally:
        if controller.poll() is None:
            controller.kill()
    killed_at = stage.store.load("r")
    assert killed_at.status.current_step_index == 3 and killed_at.status.canary_weight == 50
    weights: list[int] = []
    original = stage.world.traffic.apply

    def spy(action) -> None:
        weights.append(action.candidate_weight)
        original(action)

    stage.world.traffic.apply = spy  # type: ignore[method-assign]
    record = drive(stage)
    assert record.status.phase == RolloutPhase.HEALTHY
    assert weights[0] == 50 and 20 not in weights  # resumed at 50, nothing repeated or skipped
    assert weights[-1] == 100 and 80 in weights
    steps = [point.note for point in record.history if point.note.startswith("step ")]
    assert len(steps) == len(set(steps)), steps  # every step entered exactly once


def test_rollout_start_serves_routes_analyses_and_promotes(parts: Parts, tmp_path: Path) -> None:
    """The laptop path end to end: `kfops rollout start` starts both servers, the router and a
    Prometheus, drives the rollout under load, moves the alias and stops what it started."""
    config = tmp_path / "kfops.yaml"
    config.write_text(yaml.safe_dump({
        "project": "rollout-start", "data": {"path": "unused.csv", "target": "churned"},
        "runtime": {"root": str(tmp_path)}, "tracking": {"uri": parts.tracking_uri},
        "registry": {"model_name": MODEL_NAME},
        "serving": {"inference": "thread", "grace_period_seconds": 2},
        "rollout": {"analysisTemplates": TEMPLATES[:1], "strategy": {"canary": {"steps": [
            {"setWeight": 50}, {"analysis": {"templates": [{"templateName": "error-rate"}]}},
        ]}}},
    }))  # fmt: skip
    kfops = str(Path(sys.executable).parent / "kfops")
    argv = [kfops, "rollout", "start", "--config", str(config), "--interval", "0.5",
            "--stable", parts.versions["stable"], "--candidate", parts.versions[HEALTHY]]  # fmt: skip
    store = LocalRolloutStore(tmp_path)
    start = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"})  # fmt: skip
    load = None
    try:
        for _ in range(3000):  # the state file appears once every process is up
            if store.exists("rollout-start") or start.poll() is not None:
                break
            time.sleep(0.1)
        assert store.exists("rollout-start"), start.communicate(timeout=60)[0]
        processes = store.load("rollout-start").processes
        assert set(processes) == {"stable", "candidate", "router", "prometheus"}
        load = Load(processes["router"]["url"]).__enter__()
        output, _ = start.communicate(timeout=300)
    finally:
        if load is not None:
            load.__exit__()
        if start.poll() is None:
            start.kill()
    assert start.returncode == 0, output
    assert "rollout complete" in output and "timeline:" in output
    record = store.load("rollout-start")
    assert record.status.phase == RolloutPhase.HEALTHY
    assert (
        MlflowAliases(parts.tracking_uri).version(MODEL_NAME, "champion") == parts.versions[HEALTHY]
    )
    assert {code for _, code, _ in load.answers} == {200}
    assert load.codes("candidate")[200] > 0
    for process in processes.values():  # everything it started is gone
        with pytest.raises(ProcessLookupError):
            os.kill(process["pid"], 0)
    assert (store.folder / "rollout-start-timeline.png").is_file()
    MlflowAliases(parts.tracking_uri).apply(
        MoveAlias(MODEL_NAME, "champion", parts.versions["stable"])
    )


@pytest.mark.parametrize("stage", [HEALTHY], indirect=True)
def test_an_analysis_without_traffic_says_so(stage: Stage, parts: Parts) -> None:
    """No request reached the router: Prometheus has no series, and the measurement says
    'no traffic' with the router's URL instead of an index error (an Error, as in Argo)."""
    quiet = {**metric("error-rate", ERROR_RATE, success="result[0] <= 0.05",
                      failure="result[0] > 0.05", count=1, delay="1s"),
             "consecutiveErrorLimit": 0}  # fmt: skip
    plan = RolloutPlan.model_validate({
        "strategy": {"canary": {"steps": [{"setWeight": 30}, {"analysis": {"templates": [
            {"templateName": "quiet"}]}}]}},
        "analysisTemplates": [{"name": "quiet", "metrics": [quiet]}],
        "prometheus": {"address": stage.prometheus_url},
        "traffic": {"routerUrl": stage.router_url},
    })  # fmt: skip
    spec = plan.resolve(MODEL_NAME, parts.versions["stable"], parts.versions[HEALTHY])
    stage.store.save(RolloutRecord(name="r", spec=spec, status=RolloutStatus.initial(spec)))
    record = drive(stage)
    line = (
        "no traffic: the query returned no samples for candidate; send requests to "
        f"{stage.router_url}"
    )
    result = record.status.run("step-1").metric_results[0]
    assert record.status.phase == RolloutPhase.DEGRADED
    assert result.phase == AnalysisPhase.ERROR and result.measurements[-1].message == line
    assert line in record.status.message
    assert any(line in event for event in stage.events)


def test_rollout_start_replays_a_dataset_and_that_traffic_decides(
    parts: Parts, tmp_path: Path
) -> None:
    """`kfops rollout start --replay FILE` with no other client: it prints where to send
    requests, replays the rows (bounded, with progress) and stops when the rollout ends;
    the status keeps the gate decision it started from."""
    import pandas as pd

    rows = tmp_path / "rows.csv"
    pd.DataFrame(feature_rows(4)).assign(churned=0).to_csv(rows, index=False)
    config = tmp_path / "kfops.yaml"
    config.write_text(yaml.safe_dump({
        "project": "rollout-replay", "data": {"path": "unused.csv", "target": "churned"},
        "runtime": {"root": str(tmp_path)}, "tracking": {"uri": parts.tracking_uri},
        "registry": {"model_name": MODEL_NAME},
        "serving": {"inference": "thread", "grace_period_seconds": 2},
        "rollout": {"analysisTemplates": TEMPLATES[:1], "strategy": {"canary": {"steps": [
            {"setWeight": 50}, {"analysis": {"templates": [{"templateName": "error-rate"}]}},
        ]}}},
    }))  # fmt: skip
    kfops = str(Path(sys.executable).parent / "kfops")
    argv = [kfops, "rollout", "start", "--config", str(config), "--interval", "0.5",
            "--stable", parts.versions["stable"], "--candidate", parts.versions[HEALTHY],
            "--replay", str(rows), "--replay-repeats", "250", "--replay-rate", "25"]  # fmt: skip
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "COLUMNS": "400"}
    try:
        start = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=300)
        output = start.stdout + start.stderr
        print(output)  # the user's view, shown with pytest -s
        assert start.returncode == 0, output
        store = LocalRolloutStore(tmp_path)
        record = store.load("rollout-replay")
        router = record.processes["router"]["url"]
        assert f"send requests to the router: POST {router}{PREDICT}" in output
        assert f"curl -s -X POST {router}{PREDICT}" in output
        assert f"replay: 4 rows x 250 from {rows} at 25/s (1000 requests" in output
        assert "replay: 100/1000 requests sent, 100 ok, 0 failed" in output
        # Bounded either way: stopped when the rollout ended, or done when the rows ran out.
        assert "replay stopped with the rollout: " in output or "replay done: 1000/1000" in output
        last = [
            line
            for line in output.splitlines()
            if "replay stopped" in line or "replay done" in line
        ]
        assert last and last[-1].endswith(" ok, 0 failed")  # stopped before the servers were
        assert "rollout complete" in output
        assert record.status.phase == RolloutPhase.HEALTHY
        analysis = record.status.run("step-1").metric_results[0]
        assert analysis.successful == 3 and analysis.measurements[-1].value == [0.0]
        assert (record.status.gate_decision, record.status.gate_forced) == ("promote", False)
        shown = subprocess.run([kfops, "rollout", "get", "rollout-replay", "-c", str(config),
                                "--json"], capture_output=True, text=True, env=env, timeout=120)  # fmt: skip
        assert json.loads(shown.stdout)["status"]["gateDecision"] == "promote"
        tree = subprocess.run([kfops, "rollout", "get", "rollout-replay", "-c", str(config)],
                              capture_output=True, text=True, env=env, timeout=120)  # fmt: skip
        assert "gate decision on the candidate: promote" in tree.stdout
    finally:
        MlflowAliases(parts.tracking_uri).apply(
            MoveAlias(MODEL_NAME, "champion", parts.versions["stable"])
        )
