"""``kfops dashboard``: serve the project's web page (runs, models, rollouts, drift, serving).

Locally the buttons of a rollout call :func:`kfops.cli.rollout.steer_rollout`, the very body of
``kfops rollout promote|abort|...`` (the engine's command handlers through the controller).
In the cluster (``--cluster``) they leave the request ``kubectl kfops`` leaves, in the
ModelRollout's command annotation, as the signed-in user, for the operator to carry out
(:mod:`kfops.dashboard.cluster`). Either way there is one implementation of every command.
"""

from __future__ import annotations

import socket
import threading
from pathlib import Path
from typing import Annotated, Any

import typer

from kfops.cli.common import console, resolve_config
from kfops.errors import ConfigurationError, exit_on_error

ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="kfops.yaml")]
SetOpt = Annotated[list[str] | None, typer.Option("--set", help="Override any key.")]


def _listen(bind: str, port: int) -> socket.socket:
    """Bind now, so port 0 becomes a free port we can print before serving."""
    family = socket.AF_INET6 if ":" in bind else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((bind, port))
    except OSError as exc:
        sock.close()
        raise ConfigurationError(
            f"--bind/--port: cannot listen on {bind}:{port}: {exc.strerror}; "
            "choose another --port (0: a free one)"
        ) from exc
    return sock


def register(app: typer.Typer) -> None:
    @app.command()
    @exit_on_error
    def dashboard(
        config: ConfigOpt = None,
        set_: SetOpt = None,
        bind: Annotated[
            str, typer.Option(help="Address to listen on; 0.0.0.0 only inside a pod.")
        ] = "127.0.0.1",
        port: Annotated[int, typer.Option(help="Port (0: a free one).")] = 8050,
        allow_actions: Annotated[
            bool,
            typer.Option(
                "--allow-actions",
                help="Enable promote/abort/pause/resume/set-weight buttons (read-only without).",
            ),
        ] = False,
        prometheus: Annotated[
            str | None,
            typer.Option(help="Prometheus URL for request rate, latency and errors per variant."),
        ] = None,
        host: Annotated[
            str | None,
            typer.Option("--host", help="KFP API: list its runs instead of the local runner's."),
        ] = None,
        cluster: Annotated[
            bool,
            typer.Option(
                "--cluster",
                help="ModelRollouts in the cluster; commands act as the user the "
                "--user-header names, checked by Kubernetes RBAC.",
            ),
        ] = False,
        namespace: Annotated[
            str | None,
            typer.Option(
                "--namespace", "-n", help="With --cluster its ModelRollouts; with --host its runs."
            ),
        ] = None,
        user_header: Annotated[
            str, typer.Option(help="--cluster: header naming the authenticated user.")
        ] = "kubeflow-userid",
        user_prefix: Annotated[
            str, typer.Option(help="--cluster: prefix to strip from the user header's value.")
        ] = "",
    ) -> None:
        """Serve a web page of runs, models, rollouts (live), drift and serving on 127.0.0.1."""
        import uvicorn

        from kfops.dashboard.access import ActionPolicy
        from kfops.dashboard.app import build_app, warm_up

        cfg = resolve_config(config, overrides=set_)
        policy = ActionPolicy(allow_actions, cluster, user_header.lower(), user_prefix)
        if cluster:
            board = _cluster_board(cfg, policy, namespace, prometheus)
        else:
            board = _local_board(cfg, policy, config, set_, prometheus)
        if host is not None:
            from kfops.cluster.client import normalise_host

            board.kfp_host = normalise_host(host)
            board.kfp_namespace = namespace
        sock = _listen(bind, port)
        bound = sock.getsockname()[1]
        mode = "steering enabled" if allow_actions else "read-only"
        shown = f"[{bind}]" if ":" in bind else bind
        console.print(f"kfops dashboard on http://{shown}:{bound}/ ({mode}); Ctrl-C stops it")
        server = uvicorn.Server(
            uvicorn.Config(build_app(board), log_level="warning", access_log=False, lifespan="off")
        )
        threading.Thread(target=warm_up, args=(board,), daemon=True).start()
        server.run(sockets=[sock])


def _local_board(
    cfg: Any, policy: Any, config: Path | None, set_: list[str] | None, prometheus: str | None
) -> Any:
    from kfops.cli.rollout import KubeTarget, steer_rollout
    from kfops.dashboard.app import Dashboard
    from kfops.dashboard.rollouts import LocalRollouts
    from kfops.rollout.drivers.store import LocalRolloutStore

    def steer(name: str, command: str, user: str | None, **arguments: Any) -> None:
        steer_rollout(name, command, config, set_, False, KubeTarget(), **arguments)

    rollouts = LocalRollouts(LocalRolloutStore(cfg.state_dir))
    return Dashboard(cfg, rollouts, policy, steer, prometheus)


def _cluster_board(cfg: Any, policy: Any, namespace: str | None, prometheus: str | None) -> Any:
    from kfops.cluster.kube_client import current_namespace
    from kfops.dashboard.app import Dashboard
    from kfops.dashboard.cluster import ClusterRollouts
    from kfops.rollout.drivers import kube

    rollouts = ClusterRollouts(kube.api_client(), namespace or current_namespace())

    def steer(name: str, command: str, user: str | None, **arguments: Any) -> None:
        assert user is not None  # decide() refuses a cluster command without a user
        rollouts.send_as(user, name, command, **arguments)

    return Dashboard(
        cfg,
        rollouts,
        policy,
        steer,
        prometheus,
        can_patch=rollouts.can_patch,
        rollouts_for=rollouts.as_user,
    )
