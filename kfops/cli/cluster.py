"""Cluster commands: compile the pipelines, submit a run, schedule a recurring run."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from kfops.cli.common import console, print_json, resolve_config
from kfops.config import DATA_SECTIONS, KfopsConfig, cluster_config
from kfops.errors import ConfigurationError, exit_on_error

ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="kfops.yaml")]
SetOpt = Annotated[list[str] | None, typer.Option("--set", help="Override any key.")]
PipelineOpt = Annotated[
    str,
    typer.Option(
        "--pipeline",
        help="training, or retraining: a drift check first, training only when it drifted.",
    ),
]
HostOpt = Annotated[
    str | None,
    typer.Option(
        "--host", help="KFP API endpoint (default: cluster.host, else $KF_PIPELINES_ENDPOINT)."
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print only the result, as JSON, on stdout.")]


def cluster_parameters(cfg: KfopsConfig) -> dict[str, Any]:
    """The pipeline's arguments for a cluster run: the config in its portable form.

    Refuses, before anything is sent, what pods could not reach (``cluster_config``) and
    feature sources that are files of this machine.
    """
    raw = cluster_config(cfg)
    _check_data_scheme(cfg.data.path)
    if cfg.features is not None:
        _check_feature_sources(cfg)
    data_raw = {key: raw[key] for key in DATA_SECTIONS if key in raw}
    return {"config": raw, "data_config": data_raw, "data_fingerprint": ""}


def _check_data_scheme(path: str) -> None:
    """A URI the pods' ingest step has a reader for (kfops.data.ingest.READERS)."""
    from kfops.data.object_store import PACKAGES

    scheme = path.partition("://")[0].lower()
    if scheme not in PACKAGES:
        known = ", ".join(f"{s}://" for s in PACKAGES)
        raise ConfigurationError(
            f"data.path: '{path}': kfops reads no {scheme}:// URIs; upload the dataset and "
            f"give one of {known}"
        )


def _check_feature_sources(cfg: KfopsConfig) -> None:
    """The repo's data sources must be URIs too: its files travel, its data does not."""
    from kfops.features.store import load_definitions, local_file_sources

    assert cfg.features is not None
    local = local_file_sources(load_definitions(cfg.features.repo))
    if local:
        name, path = local[0]
        raise ConfigurationError(
            f"features.repo: source '{name}' reads '{path}', a file on this machine; a cluster "
            "run needs a URI its pods can read: upload the file and set the source's path to "
            "it (e.g. s3://bucket/features.parquet)"
        )


def _host(cfg: KfopsConfig, host: str | None) -> str:
    from kfops.cluster.client import resolve_host

    return resolve_host(host, cfg.cluster.host)


@contextmanager
def compiled_package(cfg: KfopsConfig, pipeline: str = "training") -> Iterator[str]:
    """The compiled pipeline this config runs, in a temporary file."""
    from kfops.runners.compile import compile_pipeline, pipeline_name_for

    name = pipeline_name_for(cfg, pipeline)
    with tempfile.TemporaryDirectory() as tmp:
        yield str(compile_pipeline(cfg, name, Path(tmp)))


def run_placement(cfg: KfopsConfig, host: str | None, experiment: str | None) -> dict[str, Any]:
    """Where a run goes: KFP host, experiment, namespace and service account."""
    return {
        "host": _host(cfg, host),
        "experiment": experiment or cfg.cluster.experiment or cfg.project,
        "namespace": cfg.cluster.namespace,
        "service_account": cfg.cluster.service_account,
    }


def _public(placement: dict[str, Any]) -> dict[str, Any]:
    """Where the run went, for --json: host, experiment, namespace."""
    return {key: placement[key] for key in ("host", "experiment", "namespace")}


def register(app: typer.Typer) -> None:
    @app.command("compile")
    @exit_on_error
    def compile_(
        config: ConfigOpt = None,
        set_: SetOpt = None,
        output: Annotated[
            Path | None, typer.Option("--output", "-o", help="Folder (default pipelines/compiled).")
        ] = None,
        check: Annotated[
            bool, typer.Option("--check", help="Fail when the committed YAML is stale.")
        ] = False,
        json_out: JsonOpt = False,
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
            if json_out:
                print_json({"folder": str(target), "current": True})
            else:
                console.print(f"compiled pipelines in {target} are current")
            return
        written = [str(path) for path in compile_pipelines(cfg, target)]
        if json_out:
            print_json({"folder": str(target), "files": written})
            return
        for path in written:
            console.print(f"wrote {path}", soft_wrap=True)

    @app.command()
    @exit_on_error
    def submit(
        config: ConfigOpt = None,
        set_: SetOpt = None,
        host: HostOpt = None,
        experiment: Annotated[str | None, typer.Option(help="KFP experiment.")] = None,
        run_name: Annotated[str | None, typer.Option(help="Run name.")] = None,
        pipeline: PipelineOpt = "training",
        json_out: JsonOpt = False,
    ) -> None:
        """Submit a training (or retraining) run to Kubeflow Pipelines."""
        from kfops.cluster.client import submit_run

        cfg = resolve_config(config, overrides=set_)
        params = cluster_parameters(cfg)
        placement = run_placement(cfg, host, experiment)
        name = run_name or f"{cfg.project}-{pipeline}"
        with compiled_package(cfg, pipeline) as package:
            run_id = submit_run(package_path=package, run_name=name, params=params, **placement)
        if json_out:
            print_json({"run_id": run_id, "run_name": name, **_public(placement)})
            return
        console.print(f"submitted run {run_id}")

    @app.command()
    @exit_on_error
    def schedule(
        cron: Annotated[str, typer.Option(help="6-field cron, seconds first: '0 0 3 * * *'.")],
        config: ConfigOpt = None,
        set_: SetOpt = None,
        host: HostOpt = None,
        experiment: Annotated[str | None, typer.Option(help="KFP experiment.")] = None,
        name: Annotated[str | None, typer.Option(help="Recurring run name.")] = None,
        max_concurrency: Annotated[int, typer.Option(help="Runs at once.")] = 1,
        catchup: Annotated[bool, typer.Option(help="Backfill missed runs.")] = False,
        pipeline: PipelineOpt = "training",
        json_out: JsonOpt = False,
    ) -> None:
        """Create a recurring training (or retraining) run (KFP cron, seconds first)."""
        from kfops.cluster.client import schedule_run
        from kfops.cluster.cron import parse_cron

        cron = parse_cron(cron)
        cfg = resolve_config(config, overrides=set_)
        params = cluster_parameters(cfg)
        placement = run_placement(cfg, host, experiment)
        job_name = name or f"{cfg.project}-{pipeline}-schedule"
        with compiled_package(cfg, pipeline) as package:
            job_id = schedule_run(
                package_path=package,
                job_name=job_name,
                cron=cron,
                params=params,
                max_concurrency=max_concurrency,
                no_catchup=not catchup,
                **placement,
            )
        if json_out:
            print_json({"recurring_run_id": job_id, "name": job_name, "cron": cron,
                        **_public(placement)})  # fmt: skip
            return
        console.print(f"scheduled recurring run {job_id} ({cron})")
