"""``kfops webhook``: Alertmanager's drift alerts start one retraining run per cool-down.

In a cluster the run goes to Kubeflow Pipelines (the config's compiled pipeline, the same
arguments as ``kfops submit``); with ``--local`` it is a ``kfops run`` on this machine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from kfops.cli.cluster import ConfigOpt, SetOpt
from kfops.cli.common import console, resolve_config
from kfops.config import KfopsConfig
from kfops.errors import ConfigurationError, exit_on_error

SECRET_ENV = "KFOPS_WEBHOOK_SECRET"


def read_secret(secret_file: Path | None) -> str:
    """The shared secret: a file (a mounted Secret) or $KFOPS_WEBHOOK_SECRET; never a flag,
    which every user of the machine could read in the process list."""
    if secret_file is not None:
        try:
            secret = secret_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigurationError(
                f"--secret-file {secret_file}: cannot read it ({exc.strerror})"
            ) from None
        where = f"--secret-file {secret_file}"
    else:
        secret = os.environ.get(SECRET_ENV, "").strip()
        where = f"${SECRET_ENV}"
    if len(secret) < 16:
        raise ConfigurationError(
            f"{where}: the webhook needs a shared secret of 16 characters or more (Alertmanager "
            "sends it as http_config.authorization.credentials); e.g. openssl rand -hex 32"
        )
    return secret


def kfp_launcher(cfg: KfopsConfig, host: str | None):
    """Submit the config's retraining pipeline to KFP, as ``kfops submit --pipeline
    retraining`` does; returns the run id."""
    from kfops.cli.cluster import cluster_parameters, compiled_package, run_placement
    from kfops.cluster.client import submit_run

    params = cluster_parameters(cfg)  # refuses local paths now, not at the first alert
    placement = run_placement(cfg, host, None)

    def launch(group, alerts: tuple[str, ...]) -> str:
        name = f"{cfg.project}-retrain-{time.strftime('%Y%m%d-%H%M%S')}"
        with compiled_package(cfg, "retraining") as package:
            return submit_run(package_path=package, run_name=name, params=params, **placement)

    return launch, placement["host"]


def local_launcher(config: Path | None, log_dir: Path):
    """Start ``kfops run`` on this machine, in the background; returns ``local-<pid>``."""
    command = [str(Path(sys.executable).with_name("kfops")), "run", "--pipeline", "retraining"]
    if config is not None:
        command += ["--config", str(config)]

    def launch(group, alerts: tuple[str, ...]) -> str:
        log_dir.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        with (log_dir / f"retrain-{stamp}.log").open("wb") as log:
            process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        return f"local-{process.pid}"

    return launch


def register(app: typer.Typer) -> None:
    @app.command()
    @exit_on_error
    def webhook(
        config: ConfigOpt = None,
        set_: SetOpt = None,
        port: Annotated[int, typer.Option(help="Port to listen on.")] = 9095,
        bind: Annotated[
            str, typer.Option(help="Address to bind; 0.0.0.0 only inside a pod.")
        ] = "127.0.0.1",
        host: Annotated[
            str | None, typer.Option("--host", help="KFP API (default cluster.host or env).")
        ] = None,
        local: Annotated[
            bool, typer.Option("--local", help="Start `kfops run` here instead of a KFP run.")
        ] = False,
        cooldown: Annotated[
            str, typer.Option(help="Time after a started run in which alerts start none.")
        ] = "1h",
        alert: Annotated[
            list[str] | None,
            typer.Option("--alert", help="Alert names that retrain (default KfopsFeatureDrift)."),
        ] = None,
        secret_file: Annotated[
            Path | None,
            typer.Option(help=f"File holding the shared secret (else ${SECRET_ENV})."),
        ] = None,
    ) -> None:
        """Receive Alertmanager webhooks; a drift alert starts one retraining run."""
        import uvicorn

        from kfops.config.rollout import parse_duration
        from kfops.retraining.trigger import DEFAULT_ALERTS, RetrainingTrigger
        from kfops.retraining.webhook import build_app

        secret = read_secret(secret_file)
        try:
            cooldown_s = parse_duration(cooldown)
        except ValueError as exc:
            raise ConfigurationError(f"--cooldown: {exc}") from None
        cfg = resolve_config(config, overrides=set_)
        if local:
            launch = local_launcher(config, cfg.state_dir / "retraining")
            target = "kfops run on this machine"
        else:
            launch, kfp_host = kfp_launcher(cfg, host)
            target = f"KFP at {kfp_host}"
        names = frozenset(alert) if alert else DEFAULT_ALERTS
        trigger = RetrainingTrigger(launch, cooldown_s=cooldown_s, alert_names=names)

        def report(decision: dict) -> None:
            # One JSON line per notification: what a log collector (or a test) reads.
            sys.stdout.write(json.dumps(decision, sort_keys=True) + "\n")
            sys.stdout.flush()

        console.print(
            f"webhook on http://{bind}:{port}/alerts: {', '.join(sorted(names))} starts a run "
            f"({target}), at most one per {cooldown}"
        )
        uvicorn.run(build_app(trigger, secret, report), host=bind, port=port, log_level="warning")
