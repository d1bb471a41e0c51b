"""A rollout on this machine, end to end: choose the versions, start the processes, drive.

The controller runs in the foreground and shows each event; Ctrl-C stops only the
controller (the servers and the state file stay), and ``kfops rollout run NAME`` resumes at
the step it reached.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pandas as pd

from kfops.config import KfopsConfig
from kfops.config.rollout import RolloutSpec
from kfops.errors import ConfigurationError, RolloutError
from kfops.registry.champion import CHALLENGER, GateDecision
from kfops.rollout.backends.aliases import MlflowAliases
from kfops.rollout.backends.table import traffic_backend
from kfops.rollout.drivers import local_stack
from kfops.rollout.drivers.controller import World, is_done, prometheus_measure, run_local
from kfops.rollout.drivers.replay import Replay, ReplayPlan
from kfops.rollout.drivers.store import LocalRolloutStore, RolloutRecord, check_name
from kfops.rollout.engine.machine import check_spec
from kfops.rollout.engine.status import RolloutPhase, RolloutStatus

Printer = Callable[[str], None]


def local_world(cfg: KfopsConfig, record: RolloutRecord) -> World:
    return World(
        traffic=traffic_backend(record.spec),
        aliases=MlflowAliases(cfg.resolved_tracking_uri(), cfg.resolved_registry_uri()),
        measure=prometheus_measure,
    )


def _versions(
    cfg: KfopsConfig, model: str, alias: str, stable: str | None, candidate: str | None
) -> tuple[str, str]:
    registry = MlflowAliases(cfg.resolved_tracking_uri(), cfg.resolved_registry_uri())
    stable = stable or registry.version(model, alias)
    if stable is None:
        raise RolloutError(
            f"{model} has no '{alias}' version to roll out from; train and promote one "
            "(`kfops run`) or pass --stable VERSION"
        )
    candidate = candidate or registry.version(model, CHALLENGER)
    if candidate is None:
        raise RolloutError(
            f"{model} has no '{CHALLENGER}' version to roll out; pass --candidate VERSION"
        )
    return stable, candidate


def check_candidate(
    registry: MlflowAliases,
    model: str,
    stable: str,
    candidate: str,
    force: bool = False,
    on_event: Printer = print,
) -> str | None:
    """The gate's decision on the candidate; raises unless it passed the gate (or ``force``).

    A version the gate rejected lost to the champion on the held-out metric: healthy error
    rates and latencies must not promote it. One with no decision was registered outside
    ``kfops run``, so nothing vouches for it either.
    """
    if stable == candidate:
        raise RolloutError(
            f"{model}: stable and candidate are both v{candidate}, nothing to compare; train a "
            f"version that beats the champion (`kfops run`) or pass --candidate VERSION"
        )
    decision = registry.gate_decision(model, candidate)
    if decision == GateDecision.PROMOTE:
        return decision
    shown = decision or "none (not registered by `kfops run`)"
    if not force:
        raise RolloutError(
            f"{model} v{candidate} is no candidate: its gate decision is {shown}, not "
            f"{GateDecision.PROMOTE.value}; roll out a version that passed the gate, or pass "
            "--force to try it anyway"
        )
    on_event(f"--force: rolling out v{candidate} although its gate decision is {shown}")
    return decision


def served_name(server_url: str, fallback: str) -> str:
    """The name a kfops server serves its model under (``GET /v1/models``)."""
    try:
        names = httpx.get(f"{server_url}/v1/models", timeout=5).json().get("models") or []
    except (httpx.HTTPError, ValueError, AttributeError):
        return fallback
    return str(names[0]) if names else fallback


def example_row(cfg: KfopsConfig) -> dict[str, Any] | None:
    """One row of the project's dataset as a request would carry it, when it is a local
    CSV (read up to its first row only); None otherwise."""
    path = Path(cfg.data.path)
    if "://" in cfg.data.path or not path.is_file() or ".csv" not in path.name.lower():
        return None
    try:
        frame = pd.read_csv(path, nrows=1)
    except (OSError, ValueError):
        return None
    frame = frame.drop(columns=[c for c in [cfg.data.target, *cfg.data.drop_columns]
                                if c in frame.columns])  # fmt: skip
    rows = json.loads(frame.to_json(orient="records"))
    return rows[0] if rows else None


def where_to_send(predict_url: str, row: dict[str, Any] | None) -> list[str]:
    """The lines that tell a person how to give the rollout traffic."""
    body = json.dumps({"instances": [row if row is not None else {"<feature>": "<value>"}]})
    return [
        f"send requests to the router: POST {predict_url}",
        f"  e.g. curl -s -X POST {predict_url} -H 'Content-Type: application/json' -d '{body}'",
    ]


def _measures(spec: RolloutSpec) -> bool:
    """Whether anything in the rollout queries Prometheus (analysis or an experiment)."""
    canary = spec.strategy.canary
    return canary.analysis is not None or any(
        step.analysis is not None or step.experiment is not None for step in canary.steps
    )


def start_local_rollout(
    cfg: KfopsConfig,
    config_path: Path,
    overrides: list[str] | None = None,
    *,
    name: str | None = None,
    candidate: str | None = None,
    stable: str | None = None,
    prometheus: str = "local",
    interval: float = 1.0,
    keep_serving: bool = False,
    on_event: Printer = print,
    force: bool = False,
    replay: ReplayPlan | None = None,
) -> RolloutRecord:
    """Serve both versions behind the router, then drive the rollout to its end (with
    ``replay``, sending the plan's rows to the router meanwhile)."""
    plan = cfg.rollout
    if plan is None:
        raise ConfigurationError(
            f"{config_path}: no 'rollout:' section; add one with strategy.canary.steps "
            "(see docs/rollouts.md)"
        )
    if plan.traffic.backend != "local":
        raise ConfigurationError(
            f"{config_path}: rollout.traffic.backend is {plan.traffic.backend!r}; a cluster "
            "rollout is a ModelRollout object (kubectl apply), `rollout start` runs local ones"
        )
    model = plan.model or cfg.model_name
    name = check_name(name or cfg.project)
    store = LocalRolloutStore(cfg.state_dir)
    if store.exists(name):
        previous = store.load(name)
        if not is_done(previous.status):
            raise RolloutError(
                f"rollout {name} is {previous.status.phase} at step "
                f"{previous.status.current_step_index}; resume it with `kfops rollout run "
                f"{name}`, or `kfops rollout abort {name}` first"
            )
    stable_version, candidate_version = _versions(
        cfg, model, plan.champion_alias, stable, candidate
    )
    registry = MlflowAliases(cfg.resolved_tracking_uri(), cfg.resolved_registry_uri())
    gate = check_candidate(registry, model, stable_version, candidate_version, force, on_event)
    spec = plan.resolve(model, stable_version, candidate_version)
    check_spec(spec)  # bad PromQL placeholders or conditions fail before any process starts
    folder = store.folder / name
    serve_overrides = list(overrides or [])
    processes: dict[str, local_stack.ManagedProcess] = {}
    try:
        on_event(f"serving stable v{stable_version} and candidate v{candidate_version}")
        for variant, version in (("stable", stable_version), ("candidate", candidate_version)):
            processes[variant] = local_stack.start_model_server(
                variant, f"models:/{model}/{version}", config_path, folder, serve_overrides
            )
        processes["router"] = local_stack.start_router(
            processes["stable"].url, processes["candidate"].url, folder
        )
        address = prometheus
        if prometheus == "local" and _measures(spec):
            targets = {"kfops-router": [local_stack.host_port(processes["router"].url)],
                       "kfops-models": [local_stack.host_port(processes[v].url)
                                        for v in ("stable", "candidate")]}  # fmt: skip
            processes["prometheus"] = local_stack.start_prometheus(targets, folder / "prometheus")
            address = processes["prometheus"].url
    except BaseException:
        local_stack.stop_all({key: p.as_dict() for key, p in processes.items()})
        raise
    spec.traffic.router_url = processes["router"].url
    if address != "local":
        spec.prometheus.address = address
    measured = f"prometheus {spec.prometheus.address}" if _measures(spec) else "no analysis"
    on_event(f"router {spec.traffic.router_url}, {measured}")
    predict_url = (
        f"{spec.traffic.router_url}/v1/models/{served_name(processes['stable'].url, model)}:predict"
    )
    for line in where_to_send(predict_url, replay.rows[0] if replay else example_row(cfg)):
        on_event(line)
    record = RolloutRecord(
        name=name,
        spec=spec,
        status=RolloutStatus.initial(spec, gate_decision=gate,
                                     gate_forced=gate != GateDecision.PROMOTE),
        processes={key: p.as_dict() for key, p in processes.items()},
    )  # fmt: skip
    store.save(record)
    sender = Replay(predict_url, replay, on_event).start() if replay else None
    try:
        return drive(cfg, store, name, interval=interval, keep_serving=keep_serving,
                     on_event=on_event, replay=sender)  # fmt: skip
    finally:
        if sender is not None:
            sender.stop()


def drive(
    cfg: KfopsConfig,
    store: LocalRolloutStore,
    name: str,
    *,
    interval: float = 1.0,
    keep_serving: bool = False,
    on_event: Printer = print,
    max_ticks: int | None = None,
    replay: Replay | None = None,
) -> RolloutRecord:
    """Run the controller until the rollout ends; its servers stop then unless kept, and a
    ``replay`` stops first, so none of its requests meets a server going away."""
    from kfops.rollout.view import timeline_png

    record = store.load(name)
    router = record.processes.get("router")
    if router is not None and not local_stack.ManagedProcess(**router).alive():
        raise RolloutError(
            f"rollout {name}: its router (pid {router['pid']}) is gone; abort it with "
            f"`kfops rollout abort {name}` and start a new one"
        )
    world = local_world(cfg, record)
    last_error: list[str] = []

    def on_error(exc: RolloutError) -> None:
        if not last_error or last_error[-1] != exc.message:
            on_event(f"[retrying] {exc.message}")
        last_error.append(exc.message)

    try:
        record = run_local(store, name, world, interval=interval, max_ticks=max_ticks,
                           on_event=on_event, on_error=on_error)  # fmt: skip
    except KeyboardInterrupt:
        on_event(f"controller stopped; resume with `kfops rollout run {name}`")
        raise
    finally:
        if replay is not None:
            replay.stop()
    picture = timeline_png(name, record.history, record.status,
                           store.folder / f"{name}-timeline.png")  # fmt: skip
    on_event(f"timeline: {picture}")
    if is_done(record.status) and not keep_serving:
        local_stack.stop_all(record.processes)
    if record.status.phase == RolloutPhase.DEGRADED:
        raise RolloutError(
            f"rollout {name} ended {record.status.phase}: {record.status.message}; "
            f"{record.spec.champion_alias} stays where it was"
        )
    return record
