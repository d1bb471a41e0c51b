"""A rollout on this machine, end to end: choose the versions, start the processes, drive.

The controller runs in the foreground and shows each event; Ctrl-C stops only the
controller (the servers and the state file stay), and ``kfops rollout run NAME`` resumes at
the step it reached.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from kfops.config import KfopsConfig
from kfops.config.rollout import RolloutSpec
from kfops.errors import ConfigurationError, RolloutError
from kfops.registry.champion import CHALLENGER
from kfops.rollout.backends.aliases import MlflowAliases
from kfops.rollout.backends.table import traffic_backend
from kfops.rollout.drivers import local_stack
from kfops.rollout.drivers.controller import World, is_done, prometheus_measure, run_local
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
) -> RolloutRecord:
    """Serve both versions behind the router, then drive the rollout to its end."""
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
    record = RolloutRecord(
        name=name,
        spec=spec,
        status=RolloutStatus.initial(spec),
        processes={key: p.as_dict() for key, p in processes.items()},
    )
    store.save(record)
    return drive(cfg, store, name, interval=interval, keep_serving=keep_serving,
                 on_event=on_event)  # fmt: skip


def drive(
    cfg: KfopsConfig,
    store: LocalRolloutStore,
    name: str,
    *,
    interval: float = 1.0,
    keep_serving: bool = False,
    on_event: Printer = print,
    max_ticks: int | None = None,
) -> RolloutRecord:
    """Run the controller until the rollout ends; its servers stop then unless kept."""
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
