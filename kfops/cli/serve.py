"""``kfops serve`` (the model server on 127.0.0.1) and ``kfops deploy`` (its InferenceService)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer

from kfops.cli.common import console, resolve_config
from kfops.config import KfopsConfig, ServingConfig
from kfops.errors import ConfigurationError, exit_on_error

ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="kfops.yaml")]
SetOpt = Annotated[list[str] | None, typer.Option("--set", help="Override any key.")]
ModelOpt = Annotated[
    str | None,
    typer.Option("--model", help="models:/NAME@ALIAS, models:/NAME/VERSION or a storage URI."),
]


class FeastOnlineFeatures:
    """The data plane's online-feature interface over kfops.features (imported lazily)."""

    def __init__(self, cfg: KfopsConfig, entity_keys: list[str]) -> None:
        from kfops.features.store import open_store

        assert cfg.features is not None
        self.entity_keys = frozenset(entity_keys)
        self._service = cfg.features.service
        self._store = open_store(cfg.features, cfg.state_dir)

    def lookup(self, entity_rows: list[dict[str, Any]], feature_order: list[str]) -> Any:
        from kfops.features.online import online_feature_columns

        return online_feature_columns(self._store, self._service, entity_rows, feature_order)


def _online_features(cfg: KfopsConfig, settings: ServingConfig) -> FeastOnlineFeatures | None:
    if not settings.entity_keys:
        return None
    if cfg.features is None:
        raise ConfigurationError(
            "serving.entity_keys needs a features: section (the Feast repo and service) to "
            "look the entities up; add it or remove serving.entity_keys"
        )
    return FeastOnlineFeatures(cfg, settings.entity_keys)


def _use_registry(cfg: KfopsConfig) -> None:
    import mlflow

    mlflow.set_tracking_uri(cfg.resolved_tracking_uri())
    mlflow.set_registry_uri(cfg.resolved_registry_uri())


def _settings(
    config: Path | None, overrides: list[str] | None
) -> tuple[KfopsConfig | None, ServingConfig]:
    """The project config and its serving section; in a container, the section alone.

    An InferenceService's container has no kfops.yaml: the manifest passes the serving
    section as JSON in KFOPS_SERVING and MLflow's address in MLFLOW_TRACKING_URI.
    """
    from pydantic import ValidationError

    from kfops.serving.manifests import SERVING_ENV

    raw = os.environ.get(SERVING_ENV)
    if config is None and raw is not None:
        try:
            return None, ServingConfig.model_validate_json(raw)
        except ValidationError as exc:
            raise ConfigurationError(f"{SERVING_ENV}: not a serving section: {exc}") from exc
    cfg = resolve_config(config, overrides=overrides)
    settings = cfg.serving or ServingConfig()
    log_path = settings.inference_log.path
    if log_path and cfg.base_dir and "://" not in log_path and not Path(log_path).is_absolute():
        settings.inference_log.path = str(Path(cfg.base_dir) / log_path)  # relative to the file
    return cfg, settings


def register(app: typer.Typer) -> None:
    @app.command()
    @exit_on_error
    def serve(
        config: ConfigOpt = None,
        set_: SetOpt = None,
        model: ModelOpt = None,
        port: Annotated[int | None, typer.Option(help="Port (default serving.port).")] = None,
        grpc_port: Annotated[
            int | None, typer.Option(help="V2 gRPC port (default serving.grpc_port: none).")
        ] = None,
        host: Annotated[
            str, typer.Option(help="Address to bind; 0.0.0.0 only inside a container.")
        ] = "127.0.0.1",
        sha256: Annotated[
            str | None, typer.Option(help="Expected artifact digest (storage URIs).")
        ] = None,
        allow_unverified: Annotated[
            bool, typer.Option("--allow-unverified", help="Serve without a digest to check.")
        ] = False,
        name: Annotated[
            str | None, typer.Option(help="Model name in the URL (default the registry name).")
        ] = None,
    ) -> None:
        """Serve a registered model (V1 and V2 protocols) until Ctrl-C or SIGTERM, then drain."""
        from kfops.serving.loader import load_model
        from kfops.serving.model import build_model
        from kfops.serving.server import KfopsModelServer

        os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
        cfg, settings = _settings(config, set_)
        if cfg is not None:
            _use_registry(cfg)
        uri = model or settings.model_uri or (cfg and f"models:/{cfg.model_name}@champion")
        if not uri:
            raise ConfigurationError("no model to serve: pass --model or set serving.model_uri")
        loaded = load_model(uri, expected_sha256=sha256, allow_unverified=allow_unverified)
        served = build_model(
            loaded,
            settings,
            name=name or loaded.ref.name or (cfg.model_name if cfg else None),
            online_features=_online_features(cfg, settings) if cfg else None,
            default_log_dir=cfg.state_dir / "inference-log" if cfg else None,
        )
        server = KfopsModelServer(
            host=host,
            port=settings.port if port is None else port,
            grace_period=settings.grace_period_seconds,
            max_body_bytes=settings.max_body_bytes,
            grpc_port=settings.grpc_port if grpc_port is None else grpc_port,
        )
        check = "verified" if loaded.verified else "UNVERIFIED"
        rpc = f" and gRPC {host}:{server.oip_grpc_port}" if server.oip_grpc_port is not None else ""
        console.print(
            f"serving {loaded.ref.uri} as '{served.name}' (version {loaded.version}, sha256 "
            f"{loaded.sha256[:12]} {check}) on http://{host}:{server.http_port}{rpc}; Ctrl-C drains and stops"
        )
        server.start([served])

    @app.command()
    @exit_on_error
    def deploy(
        config: ConfigOpt = None,
        set_: SetOpt = None,
        version: Annotated[
            str | None, typer.Option(help="Model version (default the champion).")
        ] = None,
        dry_run: Annotated[
            bool, typer.Option("--dry-run", help="Print the InferenceService YAML only.")
        ] = False,
        output: Annotated[
            Path | None, typer.Option("--output", "-o", help="Write the YAML to this file.")
        ] = None,
    ) -> None:
        """Apply the model's InferenceService (server-side apply) and wait until it is Ready."""
        import yaml

        from kfops.steps.deploy import deployment_manifest, run_deploy

        cfg = resolve_config(config, overrides=set_)
        if dry_run or output:
            _use_registry(cfg)
            manifest = deployment_manifest(cfg, version)
            text = yaml.safe_dump(manifest, sort_keys=False)
            if output:
                output.write_text(text)
                console.print(f"wrote {output}")
            else:
                console.print(text, end="", markup=False, highlight=False)
            return
        result = run_deploy(cfg, version)
        console.print(f"{result.name} in {result.namespace} is Ready: {result.url}")
