"""Cluster commands: compile the pipelines, submit a run, schedule a recurring run."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from kfops.cli.common import console, exits_cleanly, resolve_config
from kfops.config import DATA_SECTIONS, KfopsConfig, config_to_dict
from kfops.errors import ConfigurationError

CLUSTER_STATE_DIR = "/tmp/kfops"

ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="kfops.yaml")]
SetOpt = Annotated[list[str] | None, typer.Option("--set", help="Override any key.")]
HostOpt = Annotated[
    str | None, typer.Option("--host", help="KFP API endpoint (default: cluster.host).")
]


def cluster_parameters(cfg: KfopsConfig) -> dict[str, Any]:
    """The pipeline's arguments for a cluster run; refuses what pods could not reach.

    Local paths and the default local sqlite tracking store exist only on this machine.
    """
    if "://" not in cfg.data.path:
        raise ConfigurationError(
            f"data.path: '{cfg.data.path}' is a local file; a cluster run needs a URI its pods "
            "can read (s3://, gs://, file:// on a mounted volume); set data.path"
        )
    if not cfg.tracking.uri:
        raise ConfigurationError(
            "tracking.uri: a cluster run needs an MLflow server, e.g. "
            "http://mlflow.kubeflow:5000; set tracking.uri"
        )
    raw = config_to_dict(cfg)
    raw["runtime"]["root"] = CLUSTER_STATE_DIR
    raw.pop("base_dir", None)
    data_raw = {key: raw[key] for key in DATA_SECTIONS if key in raw}
    return {"config": raw, "data_config": data_raw, "data_fingerprint": ""}


def _host(cfg: KfopsConfig, host: str | None) -> str:
    chosen = host or cfg.cluster.host
    if not chosen:
        raise ConfigurationError("no KFP host: pass --host URL or set cluster.host")
    return chosen


@contextmanager
def _package(cfg: KfopsConfig) -> Iterator[str]:
    """The compiled pipeline this config runs, in a temporary file."""
    from kfops.runners.compile import compile_pipeline, pipeline_name_for

    with tempfile.TemporaryDirectory() as tmp:
        yield str(compile_pipeline(cfg, pipeline_name_for(cfg), Path(tmp)))


def _placement(cfg: KfopsConfig, host: str | None, experiment: str | None) -> dict[str, Any]:
    """Where a run goes: KFP host, experiment, namespace and service account."""
    return {
        "host": _host(cfg, host),
        "experiment": experiment or cfg.cluster.experiment or cfg.project,
        "namespace": cfg.cluster.namespace,
        "service_account": cfg.cluster.service_account,
    }


def register(app: typer.Typer) -> None:
    @app.command("compile")
    @exits_cleanly
    def compile_(
        config: ConfigOpt = None,
        set_: SetOpt = None,
        output: Annotated[
            Path | None, typer.Option("--output", "-o", help="Folder (default pipelines/compiled).")
        ] = None,
        check: Annotated[
            bool, typer.Option("--check", help="Fail when the committed YAML is stale.")
        ] = False,
    ) -> None:
        """Compile every pipeline to KFP IR YAML (images and task settings from cluster:)."""
        from kfops.runners.compile import COMPILED_DIR, compile_pipelines, stale_files

        cfg = resolve_config(config, overrides=set_)
        target = output or COMPILED_DIR
        if check:
            stale = stale_files(cfg, target)
            if stale:
                raise ConfigurationError(
                    f"{target}: {', '.join(stale)} out of date; run 'kfops compile' and commit"
                )
            console.print(f"compiled pipelines in {target} are current")
            return
        for path in compile_pipelines(cfg, target):
            console.print(f"wrote {path}")

    @app.command()
    @exits_cleanly
    def submit(
        config: ConfigOpt = None,
        set_: SetOpt = None,
        host: HostOpt = None,
        experiment: Annotated[str | None, typer.Option(help="KFP experiment.")] = None,
        run_name: Annotated[str | None, typer.Option(help="Run name.")] = None,
    ) -> None:
        """Submit a training run to Kubeflow Pipelines."""
        from kfops.cluster.client import submit_run

        cfg = resolve_config(config, overrides=set_)
        params = cluster_parameters(cfg)
        with _package(cfg) as package:
            run_id = submit_run(
                package_path=package,
                run_name=run_name or f"{cfg.project}-training",
                params=params,
                **_placement(cfg, host, experiment),
            )
        console.print(f"submitted run {run_id}")

    @app.command()
    @exits_cleanly
    def schedule(
        cron: Annotated[str, typer.Option(help="6-field cron, seconds first: '0 0 3 * * *'.")],
        config: ConfigOpt = None,
        set_: SetOpt = None,
        host: HostOpt = None,
        experiment: Annotated[str | None, typer.Option(help="KFP experiment.")] = None,
        name: Annotated[str | None, typer.Option(help="Recurring run name.")] = None,
        max_concurrency: Annotated[int, typer.Option(help="Runs at once.")] = 1,
        catchup: Annotated[bool, typer.Option(help="Backfill missed runs.")] = False,
    ) -> None:
        """Create a recurring training run (KFP cron, seconds first)."""
        from kfops.cluster.client import schedule_run
        from kfops.cluster.cron import parse_cron

        cron = parse_cron(cron)
        cfg = resolve_config(config, overrides=set_)
        params = cluster_parameters(cfg)
        with _package(cfg) as package:
            job_id = schedule_run(
                package_path=package,
                job_name=name or f"{cfg.project}-training-schedule",
                cron=cron,
                params=params,
                max_concurrency=max_concurrency,
                no_catchup=not catchup,
                **_placement(cfg, host, experiment),
            )
        console.print(f"scheduled recurring run {job_id} ({cron})")
