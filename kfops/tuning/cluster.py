"""Running a Katib Experiment: create it, follow it, read the best trial. Kubernetes I/O.

Decisions (phase, progress, the best trial) come from the pure ``katib_status`` module;
this module only calls the API through the ``kubernetes`` client's CustomObjectsApi and
turns every API or network failure, a failed Experiment and a timeout into ClusterError.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kubernetes import client as k8s
from kubernetes.client.rest import ApiException
from urllib3.exceptions import HTTPError

from kfops.cluster import kube_client
from kfops.config import TuningConfig
from kfops.errors import ClusterError
from kfops.metrics import Direction
from kfops.tuning.katib_status import experiment_phase, optimal_trial, trial_records, trials_done
from kfops.tuning.results import TuningResult
from kfops.tuning.spec import parse_assignments

GROUP, VERSION = "kubeflow.org", "v1beta1"
EXPERIMENTS, TRIALS = "experiments", "trials"
EXPERIMENT_LABEL = "katib.kubeflow.org/experiment"
REQUEST_TIMEOUT = 30  # seconds per API call
SERVICE_ACCOUNT_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
RBAC_MANIFEST = "manifests/base/katib-rbac.yaml"

Progress = Callable[[int, float | None], None]  # (trials done, best value so far)


def connect(api_client: k8s.ApiClient | None = None) -> k8s.CustomObjectsApi:
    """The CustomObjectsApi: in-cluster credentials in a pod, else the kubeconfig."""
    if api_client is None:
        api_client = kube_client.api_client()
    return k8s.CustomObjectsApi(api_client)


def pod_namespace() -> str | None:
    """The namespace this pod runs in, when it runs in one."""
    try:
        return SERVICE_ACCOUNT_NAMESPACE.read_text().strip() or None
    except OSError:
        return None


def _error(exc: Exception, action: str, namespace: str) -> ClusterError:
    if not isinstance(exc, ApiException):
        return ClusterError(f"{action}: cannot reach the Kubernetes API ({exc}); check the cluster")
    detail = exc.reason or ""
    with contextlib.suppress(ValueError, AttributeError):  # the API server's Status object
        detail = json.loads(exc.body or "{}").get("message") or detail
    shown = f"{exc.status} {str(detail).splitlines()[0] if detail else ''}".strip()
    if exc.status == 404:
        fix = "is Katib installed (CRD experiments.kubeflow.org)? else set tuning.backend: local"
    elif exc.status in (401, 403):
        fix = f"grant the pipeline's service account the Role in {RBAC_MANIFEST} in '{namespace}'"
    elif exc.status == 409:
        fix = "an Experiment of that name exists; delete it or use another name"
    else:
        fix = "check the tuning section against Katib's rules (docs/tuning.md)"
    return ClusterError(f"{action}: Kubernetes API answered {shown}; {fix}")


def create_experiment(
    api: k8s.CustomObjectsApi, body: dict[str, Any], exist_ok: bool = False
) -> dict[str, Any]:
    """Create the Experiment; with ``exist_ok``, one of that name is taken as this one.

    Names derive from the pipeline run, so an existing Experiment of the same name is a
    retried step's own: following it beats failing or starting the search again.
    """
    namespace, name = body["metadata"]["namespace"], body["metadata"]["name"]
    try:
        return api.create_namespaced_custom_object(
            GROUP, VERSION, namespace, EXPERIMENTS, body, _request_timeout=REQUEST_TIMEOUT
        )
    except ApiException as exc:
        if exc.status == 409 and exist_ok:
            return get_experiment(api, namespace, name)
        raise _error(exc, f"creating Katib Experiment {namespace}/{name}", namespace) from exc
    except (HTTPError, OSError) as exc:
        raise _error(exc, f"creating Katib Experiment {namespace}/{name}", namespace) from exc


def get_experiment(api: k8s.CustomObjectsApi, namespace: str, name: str) -> dict[str, Any]:
    try:
        return api.get_namespaced_custom_object(
            GROUP, VERSION, namespace, EXPERIMENTS, name, _request_timeout=REQUEST_TIMEOUT
        )
    except (ApiException, HTTPError, OSError) as exc:
        raise _error(exc, f"reading Katib Experiment {namespace}/{name}", namespace) from exc


def list_trials(api: k8s.CustomObjectsApi, namespace: str, name: str) -> list[dict[str, Any]]:
    try:
        found = api.list_namespaced_custom_object(
            GROUP,
            VERSION,
            namespace,
            TRIALS,
            label_selector=f"{EXPERIMENT_LABEL}={name}",
            _request_timeout=REQUEST_TIMEOUT,
        )
    except (ApiException, HTTPError, OSError) as exc:
        raise _error(
            exc, f"listing Trials of Katib Experiment {namespace}/{name}", namespace
        ) from exc
    return list(found.get("items") or [])


def wait_for_experiment(
    api: k8s.CustomObjectsApi,
    namespace: str,
    name: str,
    metric: str,
    timeout_seconds: float,
    poll_seconds: float = 10.0,
    on_progress: Progress | None = None,
) -> dict[str, Any]:
    """Poll until the Experiment succeeds; return its last state.

    Raises:
        ClusterError: the Experiment failed (Katib's reason, e.g. too many failed trials),
            or it is still running after ``timeout_seconds``.
    """
    deadline = time.monotonic() + timeout_seconds
    while True:
        experiment = get_experiment(api, namespace, name)
        if on_progress is not None:
            on_progress(trials_done(experiment), optimal_trial(experiment, metric)[2])
        phase = experiment_phase(experiment)
        if phase.name == "Failed":
            hint = ""
            if phase.reason == "ExperimentMaxFailedTrialsReached":
                hint = "; more trials failed than tuning.max_failed_trial_count, see the trial logs"
            raise ClusterError(
                f"Katib Experiment {namespace}/{name} failed: {phase.reason}: {phase.message}{hint}"
            )
        if phase.name == "Succeeded":
            return experiment
        if time.monotonic() >= deadline:
            raise ClusterError(
                f"Katib Experiment {namespace}/{name} still {phase.name or 'pending'} after "
                f"tuning.timeout_seconds={timeout_seconds:g}; raise it, or inspect with "
                f"kubectl get experiment {name} -n {namespace}"
            )
        time.sleep(min(poll_seconds, max(deadline - time.monotonic(), 0.0)))


def tune_on_katib(
    api: k8s.CustomObjectsApi,
    body: dict[str, Any],
    tuning: TuningConfig,
    metric: str,
    direction: Direction,
    poll_seconds: float = 10.0,
    on_progress: Progress | None = None,
) -> TuningResult:
    """Create the Experiment ``body``, wait for it, and return its best trial and trials."""
    namespace, name = body["metadata"]["namespace"], body["metadata"]["name"]
    create_experiment(api, body, exist_ok=True)
    final = wait_for_experiment(
        api, namespace, name, metric, tuning.timeout_seconds, poll_seconds, on_progress
    )
    best_name, assignments, value = optimal_trial(final, metric)
    if not assignments or value is None:
        raise ClusterError(
            f"Katib Experiment {namespace}/{name} succeeded without an optimal trial "
            f"reporting {metric}; check that trials print '{metric}=<value>'"
        )
    records = trial_records(list_trials(api, namespace, name), metric)
    goal = experiment_phase(final).reason == "ExperimentGoalReached"
    return TuningResult(
        backend="katib",
        metric=metric,
        direction=direction,
        best_params=parse_assignments(tuning, assignments),
        best_value=value,
        best_trial=best_name,
        trials=records,
        stopped="goal" if goal else "",
    )
