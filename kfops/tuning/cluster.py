"""Running a Katib Experiment: create it, follow it, read the best trial. Kubernetes I/O.

Decisions (phase, progress, the best trial) come from the pure ``katib_status`` module;
this module only calls the API through :mod:`kfops.cluster.kube_api`, which turns every API
or network failure into a one-line ClusterError; a failed Experiment and a timeout are
ClusterErrors too.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kfops.cluster import kube_api, kube_client
from kfops.cluster.names import (
    KATIB_EXPERIMENT_LABEL,
    KATIB_GROUP,
    KATIB_PLURAL,
    KATIB_TRIAL_PLURAL,
    KATIB_VERSION,
)
from kfops.config import TuningConfig
from kfops.errors import ClusterError
from kfops.metrics import Direction
from kfops.tuning.katib_status import experiment_phase, optimal_trial, trial_records, trials_done
from kfops.tuning.results import TuningResult
from kfops.tuning.spec import parse_assignments

EXPERIMENT_LABEL = KATIB_EXPERIMENT_LABEL  # the step's tests label their Trials with it
SERVICE_ACCOUNT_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
RBAC_MANIFEST = "manifests/base/katib-rbac.yaml"

Progress = Callable[[int, float | None], None]  # (trials done, best value so far)


def connect(host: str | None = None) -> Any:
    """A ``kubernetes`` ApiClient: in-cluster credentials in a pod, else the kubeconfig."""
    return kube_client.api_client(host)


def pod_namespace() -> str | None:
    """The namespace this pod runs in, when it runs in one."""
    try:
        return SERVICE_ACCOUNT_NAMESPACE.read_text().strip() or None
    except OSError:
        return None


def _call(api: Any, method: str, path: str, what: str, namespace: str, **kwargs: Any) -> Any:
    """One request; failures name the Katib fix (install it, grant the Role, rename)."""
    rights = f"grant the pipeline's service account the Role in {RBAC_MANIFEST} in '{namespace}'"
    hints = {
        401: rights,
        403: rights,
        404: "is Katib installed (CRD experiments.kubeflow.org)? else set tuning.backend: local",
        409: "an Experiment of that name exists; delete it or use another name",
    }
    default = "check the tuning section against Katib's rules (docs/tuning.md)"
    return kube_api.call(
        api, method, path, what, error=ClusterError, hints=hints, default_hint=default, **kwargs
    )


def _path(plural: str, namespace: str, name: str | None = None) -> str:
    return kube_api.object_path(KATIB_GROUP, KATIB_VERSION, plural, namespace, name)


def create_experiment(api: Any, body: dict[str, Any], exist_ok: bool = False) -> dict[str, Any]:
    """Create the Experiment; with ``exist_ok``, one of that name is taken as this one.

    Names derive from the pipeline run, so an existing Experiment of the same name is a
    retried step's own: following it beats failing or starting the search again.
    """
    namespace, name = body["metadata"]["namespace"], body["metadata"]["name"]
    what = f"creating Katib Experiment {namespace}/{name}"
    try:
        return _call(api, "POST", _path(KATIB_PLURAL, namespace), what, namespace, body=body)
    except ClusterError as exc:
        if exist_ok and kube_api.api_status(exc) == 409:
            return get_experiment(api, namespace, name)
        raise


def get_experiment(api: Any, namespace: str, name: str) -> dict[str, Any]:
    what = f"reading Katib Experiment {namespace}/{name}"
    return _call(api, "GET", _path(KATIB_PLURAL, namespace, name), what, namespace)


def list_trials(api: Any, namespace: str, name: str) -> list[dict[str, Any]]:
    found = _call(
        api,
        "GET",
        _path(KATIB_TRIAL_PLURAL, namespace),
        f"listing Trials of Katib Experiment {namespace}/{name}",
        namespace,
        query=[("labelSelector", f"{KATIB_EXPERIMENT_LABEL}={name}")],
    )
    return list(found.get("items") or [])


def wait_for_experiment(
    api: Any,
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
    api: Any,
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
