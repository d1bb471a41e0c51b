"""Submit and schedule compiled pipelines on Kubeflow Pipelines (v2beta1 API, ``kfp.Client``).

The module has two halves. The pure half decides: it checks the host URL, the names, the
run parameters against the package's declared inputs and the recurring-run limits, and
raises :class:`~kfops.errors.ConfigurationError` before any request is made. The I/O half
(:func:`submit_run`, :func:`schedule_run`) only calls ``kfp.Client`` and turns transport
and HTTP failures into one-line :class:`~kfops.errors.ClusterError` messages that name the
host and what to check.

Requests made by ``kfp.Client`` for one submission, in order::

    GET  /apis/v2beta1/healthz                 (only when no user namespace is known)
    GET  /apis/v2beta1/experiments?filter=...  (find the experiment by display name)
    POST /apis/v2beta1/experiments             (only when it does not exist)
    POST /apis/v2beta1/runs | /apis/v2beta1/recurringruns
"""

from __future__ import annotations

import json
import os
import re
import sys
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from kfops.cluster.cron import parse_cron
from kfops.errors import ClusterError, ConfigurationError

ENDPOINT_ENV = "KF_PIPELINES_ENDPOINT"
"""kfp.Client's own variable for the KFP API endpoint, honoured when no host is given."""

MAX_CONCURRENCY_RANGE = (1, 10)
"""KFP's API server rejects recurring runs whose max_concurrency is outside 1-10."""

PACKAGE_SUFFIXES = (".yaml", ".yml")

# KFP parameter types (pipeline_spec ParameterType) -> Python types a value may have.
# bool is excluded from the numbers explicitly below, since bool is an int in Python.
_PARAMETER_TYPES: dict[str, tuple[type, ...]] = {
    "STRING": (str,),
    "NUMBER_INTEGER": (int,),
    "NUMBER_DOUBLE": (int, float),
    "BOOLEAN": (bool,),
    "LIST": (list, tuple),
    "STRUCT": (dict,),
}


# --------------------------------------------------------------------------- pure helpers


def normalise_host(host: str | None) -> str:
    """``http(s)://host[:port][/path]`` without a trailing slash.

    A scheme is required: kfp.Client would otherwise assume https, which is wrong for the
    usual ``kubectl port-forward`` address.
    """
    value = (host or "").strip().rstrip("/")
    if not value:
        raise ConfigurationError(
            "cluster.host: not set; pass the KFP API URL, e.g. http://localhost:8080 "
            "(kubectl port-forward -n kubeflow svc/ml-pipeline-ui 8080:80)"
        )
    if not re.match(r"^https?://[^/\s]+", value):
        raise ConfigurationError(
            f"cluster.host '{host}': not an http(s) URL; write it like http://localhost:8080 "
            "or https://kubeflow.example.com/pipeline"
        )
    return value


def resolve_host(flag: str | None, configured: str | None) -> str:
    """The KFP endpoint: --host, else cluster.host, else $KF_PIPELINES_ENDPOINT.

    Explicit settings win over the environment, as ``kfp.Client(host=...)`` wins over the
    same variable; the result is checked by :func:`normalise_host`.
    """
    chosen = flag or configured or os.environ.get(ENDPOINT_ENV)
    if not (chosen or "").strip():
        raise ConfigurationError(
            f"no KFP host: pass --host URL, set cluster.host or {ENDPOINT_ENV}, e.g. "
            "http://localhost:8080 (kubectl port-forward -n kubeflow svc/ml-pipeline-ui 8080:80)"
        )
    return normalise_host(chosen)


def check_name(kind: str, value: str) -> str:
    """A display name for an experiment, run or recurring run: non-blank, stripped."""
    name = (value or "").strip()
    if not name:
        raise ConfigurationError(f"{kind} name is empty; give it a name, e.g. my-project")
    return name


def check_max_concurrency(value: int) -> int:
    low, high = MAX_CONCURRENCY_RANGE
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigurationError(
            f"max_concurrency {value!r}: KFP accepts a whole number from {low} to {high}"
        )
    return value


def read_pipeline_spec(package_path: str | Path) -> dict[str, Any]:
    """The first YAML document (the PipelineSpec) of a compiled package."""
    path = Path(package_path)
    if path.suffix not in PACKAGE_SUFFIXES:
        raise ConfigurationError(
            f"pipeline package '{path}': expected a compiled .yaml file; compile the pipeline "
            "with kfp.compiler.Compiler to package.yaml"
        )
    if not path.is_file():
        raise ConfigurationError(
            f"pipeline package '{path}': file not found; compile the pipeline first"
        )
    try:
        docs = list(yaml.safe_load_all(path.read_text()))
    except yaml.YAMLError as exc:
        raise ConfigurationError(
            f"pipeline package '{path}': not valid YAML; recompile it"
        ) from exc
    spec = docs[0] if docs else None
    if not isinstance(spec, dict) or "root" not in spec or "pipelineInfo" not in spec:
        raise ConfigurationError(
            f"pipeline package '{path}': not a compiled KFP pipeline (no root/pipelineInfo); "
            "recompile it"
        )
    return spec


def pipeline_inputs(spec: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Root parameter definitions of a PipelineSpec: name -> {parameterType, ...}."""
    definitions = spec.get("root", {}).get("inputDefinitions", {})
    return dict(definitions.get("parameters", {}))


def build_parameters(spec: Mapping[str, Any], params: Mapping[str, Any] | None) -> dict[str, Any]:
    """Check run arguments against the pipeline's declared inputs and return them as a dict.

    Unknown names, missing required inputs, values of the wrong type and values that are
    not JSON (the API carries them as google.protobuf.Value) are configuration errors.
    """
    pipeline = spec.get("pipelineInfo", {}).get("name", "?")
    inputs = pipeline_inputs(spec)
    given = dict(params or {})
    for name in given:
        if name not in inputs:
            known = ", ".join(sorted(inputs)) or "none"
            raise ConfigurationError(
                f"parameter '{name}': not an input of pipeline '{pipeline}'; inputs: {known}"
            )
    for name, definition in inputs.items():
        required = not definition.get("isOptional") and "defaultValue" not in definition
        if required and name not in given:
            raise ConfigurationError(
                f"parameter '{name}': required by pipeline '{pipeline}'; pass a value for it"
            )
    for name, value in given.items():
        kind = inputs[name].get("parameterType", "")
        accepted = _PARAMETER_TYPES.get(kind)
        wrong_bool = isinstance(value, bool) and kind.startswith("NUMBER")
        if accepted is not None and (wrong_bool or not isinstance(value, accepted)):
            raise ConfigurationError(
                f"parameter '{name}': {type(value).__name__} {value!r:.60} given, pipeline "
                f"'{pipeline}' expects {kind}"
            )
        _check_json(name, value)
    return given


def _check_json(name: str, value: Any) -> None:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(
            f"parameter '{name}': value {value!r:.60} is not JSON (strings, numbers, booleans, "
            "lists and mappings only, no NaN); convert it first"
        ) from exc


def _one_line(text: str, limit: int = 240) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def api_error_detail(body: bytes | str | None) -> str:
    """The server's message from a KFP error body (``{"error": ..., "message": ...}``)."""
    if not body:
        return ""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body)
    try:
        payload = json.loads(text)
    except ValueError:
        return _one_line(text)
    if isinstance(payload, dict):
        for key in ("message", "error", "error_message"):
            if payload.get(key):
                return _one_line(payload[key])
    return _one_line(text)


def http_hint(status: int | None, namespace: str | None) -> str:
    """What to check for an HTTP status returned by the KFP API."""
    if status in (401, 403):
        where = f" in namespace '{namespace}'" if namespace else ""
        return f"check the token (existing_token) and that the account may use KFP{where}"
    if status == 404:
        return (
            "check that the host is the KFP API endpoint, e.g. http://localhost:8080 with "
            "kubectl port-forward -n kubeflow svc/ml-pipeline-ui 8080:80"
        )
    if status is not None and 400 <= status < 500:
        return "check the run's parameters, experiment and compiled package"
    return "check the KFP API server: kubectl logs -n kubeflow deploy/ml-pipeline"


# --------------------------------------------------------------------------- I/O


@contextmanager
def _cluster_errors(host: str, action: str, namespace: str | None) -> Iterator[None]:
    """Turn transport, HTTP and kfp.Client failures during ``action`` into ClusterError.

    kfp.Client prints its "Experiment details"/"Run details" links on stdout; they go to
    stderr, so stdout carries only what the command prints (one JSON document with --json).
    """
    import kfp_server_api
    import urllib3

    try:
        with redirect_stdout(sys.stderr):
            yield
    except kfp_server_api.ApiException as exc:
        detail = api_error_detail(getattr(exc, "body", None))
        status = f"HTTP {exc.status} {exc.reason or ''}".strip()
        raise ClusterError(
            f"KFP at {host}: {action} failed with {status}"
            + (f" ({detail})" if detail else "")
            + f"; {http_hint(exc.status, namespace)}"
        ) from exc
    except TimeoutError as exc:
        if "healthz" not in str(exc):
            raise ClusterError(
                f"KFP at {host}: {action} timed out; check the host, port and network path"
            ) from exc
        # kfp.Client retries GET /apis/v2beta1/healthz 5 times, 5 s apart, on HTTP errors.
        raise ClusterError(
            f"KFP at {host}: the health check (GET /apis/v2beta1/healthz) failed 5 times; "
            "check that the host is the KFP API endpoint and that the token (existing_token) "
            "is valid"
        ) from exc
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        raise ClusterError(
            f"KFP at {host}: cannot reach the API to {action} ({_connection_problem(exc)}); "
            "check the host and port, that the ml-pipeline API server is running and that "
            "any kubectl port-forward is still open"
        ) from exc
    except ValueError as exc:  # kfp.Client's own checks, e.g. two experiments with one name
        raise ClusterError(f"KFP at {host}: cannot {action}: {_one_line(str(exc))}") from exc


def _connection_problem(exc: BaseException) -> str:
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and len(chain) < 10:
        chain.append(current)
        current = getattr(current, "reason", None) or current.__cause__ or current.__context__
        if not isinstance(current, BaseException):
            current = None
    text = " ".join(str(item) for item in chain)
    if any(isinstance(item, ConnectionRefusedError) for item in chain) or "refused" in text:
        return "connection refused"
    if "NameResolution" in text or "Name or service not known" in text:
        return "host name not resolved"
    if any(isinstance(item, TimeoutError) for item in chain) or "timed out" in text.lower():
        return "timed out"
    return _one_line(str(exc), 160)


def _connect(host: str, namespace: str | None, existing_token: str | None) -> Any:
    import kfp

    with warnings.catch_warnings():
        # "This client only works with Kubeflow Pipeline v2.0.0-beta.2 and later versions."
        warnings.simplefilter("ignore", FutureWarning)
        return kfp.Client(
            host=host, namespace=namespace or "kubeflow", existing_token=existing_token
        )


def _experiment_id(client: Any, experiment: str, namespace: str | None) -> str:
    """Id of the experiment with this display name; kfp.Client creates it when absent."""
    found = client.create_experiment(name=experiment, namespace=namespace)
    if not getattr(found, "experiment_id", None):
        raise ClusterError(f"KFP returned no id for experiment '{experiment}'")
    return found.experiment_id


@dataclass(frozen=True)
class _Target:
    url: str
    client: Any
    experiment_id: str
    name: str
    arguments: dict[str, Any]


def _target(
    package_path: str,
    host: str,
    experiment: str,
    kind: str,
    name: str,
    params: dict[str, Any] | None,
    namespace: str | None,
    existing_token: str | None,
) -> _Target:
    """Check every argument, then connect and find (or create) the experiment.

    Shared by submit and schedule: all checks come before the first request.
    """
    url = normalise_host(host)
    experiment_name = check_name("experiment", experiment)
    checked_name = check_name(kind, name)
    arguments = build_parameters(read_pipeline_spec(package_path), params)
    with _cluster_errors(url, "connect", namespace):
        client = _connect(url, namespace, existing_token)
    with _cluster_errors(url, f"find or create experiment '{experiment_name}'", namespace):
        experiment_id = _experiment_id(client, experiment_name, namespace)
    return _Target(url, client, experiment_id, checked_name, arguments)


def submit_run(
    package_path: str,
    host: str,
    experiment: str,
    run_name: str,
    params: dict[str, Any] | None,
    namespace: str | None = None,
    service_account: str | None = None,
    existing_token: str | None = None,
) -> str:
    """Start one run of a compiled pipeline package and return its run id.

    Args:
        package_path: compiled pipeline YAML (``kfp.compiler.Compiler`` output).
        host: KFP API URL, e.g. ``http://localhost:8080``.
        experiment: experiment display name; created when absent.
        run_name: run display name.
        params: pipeline arguments, checked against the package's declared inputs.
        namespace: KFP user namespace (multi-user deployments); None in single-user ones.
        service_account: Kubernetes service account the run's pods use.
        existing_token: bearer token sent with every request.

    Raises:
        ConfigurationError: bad host, names, package or parameters (no request is made).
        ClusterError: the API could not be reached or refused a request.
    """
    target = _target(
        package_path, host, experiment, "run", run_name, params, namespace, existing_token
    )
    url, name = target.url, target.name
    with _cluster_errors(url, f"create run '{name}'", namespace):
        run = target.client.run_pipeline(
            experiment_id=target.experiment_id,
            job_name=name,
            pipeline_package_path=str(package_path),
            params=target.arguments,
            service_account=service_account,
        )
    if not getattr(run, "run_id", None):
        raise ClusterError(f"KFP at {url}: created run '{name}' but the response had no run_id")
    return run.run_id


def schedule_run(
    package_path: str,
    host: str,
    experiment: str,
    job_name: str,
    cron: str,
    params: dict[str, Any] | None,
    max_concurrency: int = 1,
    no_catchup: bool = True,
    namespace: str | None = None,
    service_account: str | None = None,
    existing_token: str | None = None,
) -> str:
    """Create an enabled recurring run with a cron trigger and return its id.

    ``cron`` is KFP's 6-field cron, seconds first (``0 0 3 * * *`` is daily at 03:00); it is
    validated with :func:`~kfops.cluster.cron.parse_cron` before any request.
    ``no_catchup=True`` runs only the latest missed interval after a pause instead of
    back-filling each one. The other arguments are as in :func:`submit_run`.

    Raises:
        ConfigurationError: bad cron, max_concurrency, host, names, package or parameters.
        ClusterError: the API could not be reached or refused a request.
    """
    schedule = parse_cron(cron)
    concurrency = check_max_concurrency(max_concurrency)
    target = _target(
        package_path, host, experiment, "recurring run", job_name, params, namespace, existing_token
    )
    url, name = target.url, target.name
    with _cluster_errors(url, f"create recurring run '{name}'", namespace):
        job = target.client.create_recurring_run(
            experiment_id=target.experiment_id,
            job_name=name,
            cron_expression=schedule,
            max_concurrency=concurrency,
            no_catchup=bool(no_catchup),
            params=target.arguments,
            pipeline_package_path=str(package_path),
            enabled=True,
            service_account=service_account,
        )
    if not getattr(job, "recurring_run_id", None):
        raise ClusterError(
            f"KFP at {url}: created recurring run '{name}' but the response had no id"
        )
    return job.recurring_run_id
