"""Tuning backends, chosen by their ``type`` (``tuning.backend``) from one table.

As Feast picks an online store by its ``type``, the tune step looks its backend up in
:data:`BACKENDS` instead of branching on it, so a new backend is one entry. Each entry
runs the whole search for a :class:`TuningRequest` and imports its machinery on first use:
the local tuner needs optuna, Katib the Kubernetes client.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from kfops.config import KfopsConfig, TaskType, TuningBackend
from kfops.errors import ConfigurationError
from kfops.tuning.results import TrialRecord, TuningResult

IN_CLUSTER_ENV = "KUBERNETES_SERVICE_HOST"
DEFAULT_NAMESPACE = "kubeflow"
POLL_SECONDS = 10.0  # between reads of the Katib Experiment's status


@dataclass(frozen=True)
class TuningRequest:
    """One search: the config, the split and where each backend keeps its files."""

    cfg: KfopsConfig
    task: TaskType
    train_path: str
    """The training split (Parquet) as this process sees it."""
    workdir: str
    """Where the local tuner keeps its journal."""
    train_uri: str
    """The split as Katib trial pods read it."""
    run_name: str
    """Names the Katib Experiment."""
    on_trial: Callable[[TrialRecord], None]
    """Called with each finished trial (the MLflow child runs)."""


TuningRun = Callable[[TuningRequest], TuningResult]


def tune_local(request: TuningRequest) -> TuningResult:
    """The embedded optuna tuner, trials in worker processes."""
    from kfops.tuning.local import tune_locally

    return tune_locally(
        request.cfg, request.train_path, request.task, request.workdir, on_trial=request.on_trial
    )


def tune_katib(request: TuningRequest) -> TuningResult:
    """A Katib Experiment in the step's namespace, followed until it ends."""
    from kfops.tuning import cluster
    from kfops.tuning.katib import build_experiment, experiment_name, experiment_to_dict
    from kfops.tuning.progress import TuningProgress
    from kfops.tuning.spec import objective_direction, objective_metric, require_tuning

    cfg = request.cfg
    tuning = require_tuning(cfg)
    metric = objective_metric(cfg, request.task)
    namespace = cfg.cluster.namespace or cluster.pod_namespace() or DEFAULT_NAMESPACE
    experiment = build_experiment(
        cfg,
        request.task,
        name=experiment_name(cfg.project, request.run_name),
        namespace=namespace,
        train_uri=request.train_uri,
    )
    with TuningProgress(tuning.max_trial_count, metric) as progress:
        result = cluster.tune_on_katib(
            cluster.connect(),
            experiment_to_dict(experiment),
            tuning,
            metric,
            objective_direction(tuning, metric),
            poll_seconds=POLL_SECONDS,
            on_progress=progress.update,
        )
    for record in result.trials:
        request.on_trial(record)
    return result


BACKENDS: dict[str, TuningRun] = {
    TuningBackend.LOCAL.value: tune_local,
    TuningBackend.KATIB.value: tune_katib,
}
"""``tuning.backend`` -> the function that runs the search (``auto`` is resolved first)."""


def resolve_backend(
    backend: TuningBackend, environ: Mapping[str, str] = os.environ
) -> TuningBackend:
    """``auto`` is Katib inside a Kubernetes pod and the embedded tuner everywhere else."""
    if backend is not TuningBackend.AUTO:
        return backend
    return TuningBackend.KATIB if environ.get(IN_CLUSTER_ENV) else TuningBackend.LOCAL


def backend_for(kind: str) -> TuningRun:
    """The registered backend of this type; a one-line error names the choices otherwise."""
    try:
        return BACKENDS[kind]
    except KeyError:
        raise ConfigurationError(
            f"tuning.backend: unknown type '{kind}'; use one of "
            f"{', '.join(sorted(BACKENDS))} (or {TuningBackend.AUTO.value})"
        ) from None
