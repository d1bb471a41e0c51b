"""``kfops rollout …`` and the kubectl plugin ``kubectl-kfops``: steer progressive rollouts.

Locally a rollout lives in a state file under ``<runtime.root>/rollouts/`` and a command
is decided by the engine and carried out at once (traffic on the router, the alias in the
registry). Against a cluster (``--cluster``, the default of ``kubectl kfops``) a command
is written to the ModelRollout's ``rollouts.kfops.io/command`` annotation; the operator,
which holds the RBAC and the registry's credentials, carries it out on its next reconcile.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from kfops.cli.common import console, print_json, print_table, resolve_config
from kfops.errors import ConfigurationError, exit_on_error

TARGET_ENV = "KFOPS_ROLLOUT_TARGET"  # "cluster" when called as the kubectl plugin

ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="kfops.yaml")]
SetOpt = Annotated[list[str] | None, typer.Option("--set", help="Override any key.")]
ClusterOpt = Annotated[
    bool | None,
    typer.Option("--cluster/--local", help="The ModelRollout in the cluster, or the local one."),
]
NamespaceOpt = Annotated[
    str | None,
    typer.Option(
        "--namespace", "-n", help="Cluster namespace (default: the kubeconfig context's)."
    ),
]
ContextOpt = Annotated[
    str | None, typer.Option("--context", help="kubeconfig context (default: the current one).")
]
KubeconfigOpt = Annotated[
    Path | None, typer.Option("--kubeconfig", help="kubeconfig file (default: $KUBECONFIG).")
]
LOCAL_VERBS = ("start", "run", "list", "timeline", "stop")
"""Commands on a rollout this machine runs; ``kubectl-kfops`` does not offer them."""
NameArg = Annotated[str, typer.Argument(help="The rollout's name.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print only JSON on stdout.")]


def _in_cluster(flag: bool | None) -> bool:
    return flag if flag is not None else os.environ.get(TARGET_ENV) == "cluster"


def _local(config: Path | None, overrides: list[str] | None):
    """The project's config, its rollout store and the world a local command acts on."""
    from kfops.rollout.drivers.store import LocalRolloutStore

    cfg = resolve_config(config, overrides=overrides)
    return cfg, LocalRolloutStore(cfg.state_dir)


def _config_path(config: Path | None) -> Path:
    """The file resolve_config picks, for the model servers a local rollout starts."""
    from kfops.cli.common import BUNDLED_EXAMPLE
    from kfops.config import CONFIG_FILENAME

    if config is not None:
        return config.resolve()
    local = Path.cwd() / CONFIG_FILENAME
    return local if local.is_file() else BUNDLED_EXAMPLE


def _print_event(line: str) -> None:
    console.print(f"[dim]{time.strftime('%H:%M:%S')}[/] {line}", soft_wrap=True)


# -- cluster ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class KubeTarget:
    """Where a cluster command goes, as kubectl picks it: -n, --context, --kubeconfig."""

    namespace: str | None = None
    context: str | None = None
    kubeconfig: Path | None = None


def _cluster_rollout(target: KubeTarget, name: str) -> tuple[Any, str, dict]:
    from kfops.cluster.kube_client import current_namespace
    from kfops.rollout.drivers import kube

    api = kube.api_client(context=target.context, config_file=target.kubeconfig)
    ns = target.namespace or current_namespace(target.context, target.kubeconfig)
    return api, ns, kube.get_rollout(api, ns, name)


def _send_command(target: KubeTarget, name: str, command: str, **arguments: Any) -> None:
    """Ask the operator to carry a command out; it clears the annotation when done."""
    from kfops.rollout.drivers import kube

    api, ns, _ = _cluster_rollout(target, name)
    request_id = kube.request_command(api, ns, name, command, **arguments)
    console.print(f"{command} requested for modelrollout/{name} in {ns} (id {request_id})")


# -- shared command body ---------------------------------------------------------------------


def steer_rollout(
    name: str,
    command: str,
    config: Path | None,
    overrides: list[str] | None,
    cluster: bool | None,
    target: KubeTarget,
    **arguments: Any,
) -> None:
    if _in_cluster(cluster):
        _send_command(target, name, command, **arguments)
        return
    from kfops.rollout.drivers.controller import local_command
    from kfops.rollout.drivers.local_rollout import local_world
    from kfops.rollout.view import rollout_tree

    cfg, store = _local(config, overrides)
    record = store.load(name)
    record = local_command(store, name, command, local_world(cfg, record), **arguments)
    console.print(rollout_tree(name, record.spec, record.status))


def register(app: typer.Typer, local_verbs: bool = True) -> None:
    """Add ``rollout`` and its commands; without ``local_verbs`` (the kubectl plugin) the
    commands that run a rollout on this machine are left out and refused clearly."""
    rollout_app = typer.Typer(
        name="rollout",
        help="Progressive delivery of a model: canary, shadow and A/B with Prometheus analysis.",
        no_args_is_help=True,
    )
    if local_verbs:
        _register_local(rollout_app)
    else:
        for verb in LOCAL_VERBS:
            _refuse_local(rollout_app, verb)
    _register_steering(rollout_app)
    app.add_typer(rollout_app, name="rollout")


def _refuse_local(rollout_app: typer.Typer, verb: str) -> None:
    @rollout_app.command(
        verb,
        hidden=True,
        context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    )
    @exit_on_error
    def refused() -> None:
        raise ConfigurationError(
            f"'rollout {verb}' acts on a rollout this machine runs; kubectl-kfops steers "
            f"ModelRollouts in the cluster. Use 'kfops rollout {verb}' locally"
        )


def _register_local(rollout_app: typer.Typer) -> None:
    """start, run, list, timeline, stop: a rollout this machine runs."""

    @rollout_app.command("start")
    @exit_on_error
    def start(
        config: ConfigOpt = None,
        set_: SetOpt = None,
        name: Annotated[str | None, typer.Option(help="Rollout name (default: project).")] = None,
        candidate: Annotated[
            str | None, typer.Option(help="Candidate version (default: the challenger alias).")
        ] = None,
        stable: Annotated[
            str | None, typer.Option(help="Stable version (default: the champion alias).")
        ] = None,
        prometheus: Annotated[
            str,
            typer.Option(help="'local' starts one scraping the router; else its URL."),
        ] = "local",
        interval: Annotated[float, typer.Option(help="Seconds between reconciles.")] = 1.0,
        keep_serving: Annotated[
            bool, typer.Option("--keep-serving", help="Leave servers up when it ends.")
        ] = False,
        force: Annotated[
            bool,
            typer.Option("--force", help="Roll out a candidate the training gate did not pass."),
        ] = False,
        replay: Annotated[
            Path | None,
            typer.Option(
                "--replay",
                help="CSV or Parquet rows to send to the router while the rollout runs.",
            ),
        ] = None,
        replay_repeats: Annotated[int, typer.Option(help="Times each --replay row is sent.")] = 1,
        replay_rate: Annotated[float, typer.Option(help="--replay requests per second.")] = 10.0,
    ) -> None:
        """Start a local rollout: serve both versions, route between them, run the analysis.

        Without flags it rolls the challenger out against the champion; a candidate the
        training gate rejected is refused unless --force. It prints where to send requests;
        --replay sends a dataset's rows (rows x --replay-repeats, at --replay-rate per second)
        until they run out or the rollout ends.
        """
        from kfops.rollout.drivers.local_rollout import start_local_rollout
        from kfops.rollout.drivers.replay import ReplayPlan, check_pace, load_rows

        if replay is not None:
            check_pace(replay_repeats, replay_rate)
        cfg = resolve_config(config, overrides=set_)
        plan = None
        if replay is not None:
            drop = [cfg.data.target, *cfg.data.drop_columns]
            plan = ReplayPlan(load_rows(replay, drop), replay_repeats, replay_rate, str(replay))
        start_local_rollout(
            cfg, _config_path(config), set_, name=name, candidate=candidate, stable=stable, prometheus=prometheus,
            interval=interval, keep_serving=keep_serving, on_event=_print_event, force=force,
            replay=plan,
        )  # fmt: skip

    @rollout_app.command("run")
    @exit_on_error
    def run(
        name: NameArg,
        config: ConfigOpt = None,
        set_: SetOpt = None,
        interval: Annotated[float, typer.Option(help="Seconds between reconciles.")] = 1.0,
        keep_serving: Annotated[bool, typer.Option("--keep-serving")] = False,
    ) -> None:
        """Resume the controller of a local rollout (after Ctrl-C or a crash)."""
        from kfops.rollout.drivers.local_rollout import drive

        cfg, store = _local(config, set_)
        drive(cfg, store, name, interval=interval, keep_serving=keep_serving,
              on_event=_print_event)  # fmt: skip

    @rollout_app.command("list")
    @exit_on_error
    def list_(config: ConfigOpt = None, set_: SetOpt = None, as_json: JsonOpt = False) -> None:
        """The local rollouts of this project and their phases."""
        _, store = _local(config, set_)
        rows = []
        for rollout_name in store.names():
            record = store.load(rollout_name)
            status = record.status
            rows.append({"name": rollout_name, "phase": f"{status.phase}",
                         "step": status.current_step_index, "weight": status.canary_weight,
                         "stable": record.spec.stable.version,
                         "candidate": record.spec.candidate.version})  # fmt: skip
        if as_json:
            print_json({"rollouts": rows})
            return
        print_table(
            None,
            ["name", "phase", "step", "weight", "stable", "candidate"],
            [[str(row[key]) for key in row] for row in rows],
            right={"step", "weight"},
        )

    @rollout_app.command("timeline")
    @exit_on_error
    def timeline(
        name: NameArg,
        config: ConfigOpt = None,
        set_: SetOpt = None,
        out: Annotated[Path | None, typer.Option(help="PNG path.")] = None,
    ) -> None:
        """Draw the rollout's weights and events over time (PNG)."""
        from kfops.rollout.view import timeline_png

        _, store = _local(config, set_)
        record = store.load(name)
        path = out or store.folder / f"{name}-timeline.png"
        console.print(f"timeline: {timeline_png(name, record.history, record.status, path)}")

    @rollout_app.command("stop")
    @exit_on_error
    def stop(name: NameArg, config: ConfigOpt = None, set_: SetOpt = None) -> None:
        """Stop the local servers, router and Prometheus a rollout started."""
        from kfops.rollout.drivers.local_stack import stop_all

        _, store = _local(config, set_)
        record = store.load(name)
        stopped = stop_all(record.processes)
        console.print(f"stopped: {', '.join(stopped) or 'nothing was running'}")


def _register_steering(rollout_app: typer.Typer) -> None:
    """get and the commands that steer a rollout, locally or in the cluster."""

    @rollout_app.command("get")
    @exit_on_error
    def get(
        name: NameArg,
        config: ConfigOpt = None,
        set_: SetOpt = None,
        cluster: ClusterOpt = None,
        namespace: NamespaceOpt = None,
        context: ContextOpt = None,
        kubeconfig: KubeconfigOpt = None,
        watch: Annotated[
            bool, typer.Option("--watch", "-w", help="Refresh until it ends.")
        ] = False,
        as_json: Annotated[
            bool, typer.Option("--json", help="Only spec and status, as JSON, on stdout.")
        ] = False,
    ) -> None:
        """Steps, weights, analysis runs and their measurements, as a tree."""
        from rich.live import Live

        from kfops.config.rollout import RolloutSpec
        from kfops.rollout.drivers.controller import is_done
        from kfops.rollout.engine.status import RolloutStatus
        from kfops.rollout.view import rollout_tree

        def fetch() -> tuple[RolloutSpec, RolloutStatus]:
            if _in_cluster(cluster):
                _, _, body = _cluster_rollout(KubeTarget(namespace, context, kubeconfig), name)
                spec = RolloutSpec.model_validate(body.get("spec") or {})
                raw = body.get("status") or {}
                status = RolloutStatus.model_validate(raw) if raw else RolloutStatus.initial(spec)
                return spec, status
            _, store = _local(config, set_)
            record = store.load(name)
            return record.spec, record.status

        spec, status = fetch()
        if as_json:
            payload = {"spec": spec.model_dump(mode="json", by_alias=True, exclude_none=True),
                       "status": status.to_json_dict()}  # fmt: skip
            print_json(payload)
            return
        if not watch:
            console.print(rollout_tree(name, spec, status))
            return
        with Live(rollout_tree(name, spec, status), console=console, auto_refresh=False) as live:
            while not is_done(status):
                time.sleep(1.0)
                spec, status = fetch()
                live.update(rollout_tree(name, spec, status), refresh=True)

    def steering(command: str, doc: str):
        def body(
            name: NameArg,
            config: ConfigOpt = None,
            set_: SetOpt = None,
            cluster: ClusterOpt = None,
            namespace: NamespaceOpt = None,
            context: ContextOpt = None,
            kubeconfig: KubeconfigOpt = None,
        ) -> None:
            target = KubeTarget(namespace, context, kubeconfig)
            steer_rollout(name, command, config, set_, cluster, target)

        body.__doc__ = doc
        rollout_app.command(command)(exit_on_error(body))

    steering("abort", "Abort: candidate weight to 0, mirror off; the alias stays on stable.")
    steering("retry", "Retry an aborted rollout from its first step.")
    steering("pause", "Pause the rollout where it is (traffic stays).")
    steering("resume", "Resume a paused rollout (also ends a set-weight hold).")
    steering("undo", "Roll back: stable takes all traffic and the champion alias again.")

    @rollout_app.command("promote")
    @exit_on_error
    def promote(
        name: NameArg,
        full: Annotated[
            bool, typer.Option("--full", help="Skip every remaining step and analysis.")
        ] = False,
        config: ConfigOpt = None,
        set_: SetOpt = None,
        cluster: ClusterOpt = None,
        namespace: NamespaceOpt = None,
        context: ContextOpt = None,
        kubeconfig: KubeconfigOpt = None,
    ) -> None:
        """Go past the current pause or analysis (with --full: straight to 100%)."""
        steer_rollout(
            name,
            "promote",
            config,
            set_,
            cluster,
            KubeTarget(namespace, context, kubeconfig),
            **({"full": True} if full else {}),
        )

    @rollout_app.command("set-weight")
    @exit_on_error
    def set_weight(
        name: NameArg,
        weight: Annotated[int, typer.Argument(help="Candidate weight, 0..100.")],
        config: ConfigOpt = None,
        set_: SetOpt = None,
        cluster: ClusterOpt = None,
        namespace: NamespaceOpt = None,
        context: ContextOpt = None,
        kubeconfig: KubeconfigOpt = None,
    ) -> None:
        """Hold the candidate at a weight (pauses the steps until resume)."""
        if not 0 <= weight <= 100:
            raise ConfigurationError(f"set-weight: weight {weight} is outside 0..100")
        target = KubeTarget(namespace, context, kubeconfig)
        steer_rollout(name, "set-weight", config, set_, cluster, target, weight=weight)


def kubectl_app() -> typer.Typer:
    """The ``kubectl-kfops`` command: ``rollout`` with the steering verbs only."""
    plugin = typer.Typer(
        name="kubectl-kfops",
        help="kfops model rollouts from kubectl.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )
    register(plugin, local_verbs=False)
    return plugin


def kubectl_main() -> None:
    """``kubectl kfops rollout …``: the steering commands, against the cluster by default."""
    os.environ.setdefault(TARGET_ENV, "cluster")
    kubectl_app()()
