"""The Katib Experiment (kubeflow.org/v1beta1) for a ``tuning:`` section. Pure: no I/O.

Built from the Katib SDK's model classes. Each trial is a batch Job in the main image
that runs ``python -m kfops.tuning.trial`` with the trial's parameters as ``--param``
arguments (Katib substitutes ``${trialParameters.<name>}``) and prints the objective in
Katib's StdOut collector format, ``roc_auc=0.8123``, once per CV fold: the running mean,
so the last line is the trial's value (metricStrategies: latest) and medianstop compares
the earlier ones.
"""

from __future__ import annotations

import hashlib
import json
import re
from types import SimpleNamespace
from typing import Any

from kubeflow.katib import ApiClient as KatibApiClient
from kubeflow.katib import models as katib
from kubernetes import client as k8s

from kfops.cluster.names import KATIB_API_VERSION, KATIB_KIND
from kfops.config import KfopsConfig, TaskType, config_to_dict
from kfops.tuning.spec import objective_direction, objective_metric, require_tuning

PRIMARY_CONTAINER = "training-container"
TRIAL_MODULE = "kfops.tuning.trial"
TUNE_COMPONENT = "tune"
# Katib's conditions for a batch Job trial (GJSON over the Job's status).
JOB_SUCCESS = 'status.conditions.#(type=="Complete")#|#(status=="True")#'
JOB_FAILURE = 'status.conditions.#(type=="Failed")#|#(status=="True")#'
DISTRIBUTIONS = {"uniform": "uniform", "log_uniform": "logUniform"}
TRIAL_SECTIONS = ("project", "data", "model", "registry", "tuning")
"""Config sections a trial reads; the rest (tracking, cluster, runtime) stays out."""
MAX_NAME = 40  # trial, Job and pod names extend the experiment's name


def experiment_name(project: str, run: str) -> str:
    """A DNS-1123 name that starts with a letter, unique per pipeline run.

    project "churn", run "kfops-training-abc" -> "churn-tune-3f2a9c1d".
    """
    digest = hashlib.sha256(run.encode()).hexdigest()[:8]
    base = re.sub(r"[^a-z0-9-]", "-", project.lower()).strip("-") or "kfops"
    if not base[0].isalpha():
        base = f"k-{base}"
    return f"{base[: MAX_NAME - 14].rstrip('-')}-tune-{digest}"


def trial_config(cfg: KfopsConfig, task: TaskType) -> dict[str, Any]:
    """The config a trial pod gets: what scoring needs, the objective metric made explicit."""
    full = config_to_dict(cfg)
    trimmed = {key: full[key] for key in TRIAL_SECTIONS if key in full}
    trimmed["tuning"]["objective"]["metric"] = objective_metric(cfg, task)
    trimmed["tuning"]["backend"] = "local"  # inside a trial nothing is tuned further
    return trimmed


def _container(cfg: KfopsConfig, task: TaskType, train_uri: str) -> k8s.V1Container:
    tuning = require_tuning(cfg)
    args = [
        "--config-json",
        json.dumps(trial_config(cfg, task), sort_keys=True, separators=(",", ":")),
        "--train",
        train_uri,
        "--task",
        task.value,
    ]
    for param in tuning.parameters:
        args += ["--param", f"{param.name}=${{trialParameters.{param.name}}}"]
    env = [
        k8s.V1EnvVar(name="MLFLOW_DISABLE_TELEMETRY", value="true"),
        k8s.V1EnvVar(name="PYTHONUNBUFFERED", value="1"),
    ]
    for secret, keys in cfg.cluster.secrets_as_env.items():
        for key, variable in keys.items():
            selector = k8s.V1SecretKeySelector(name=secret, key=key)
            env.append(
                k8s.V1EnvVar(name=variable, value_from=k8s.V1EnvVarSource(secret_key_ref=selector))
            )
    resources = cfg.cluster.resources.get(TUNE_COMPONENT) or cfg.cluster.resources.get("default")
    requirements = None
    if resources is not None:
        requests = {"cpu": resources.cpu_request, "memory": resources.memory_request}
        limits = {"cpu": resources.cpu_limit, "memory": resources.memory_limit}
        requirements = k8s.V1ResourceRequirements(
            requests={k: v for k, v in requests.items() if v} or None,
            limits={k: v for k, v in limits.items() if v} or None,
        )
    return k8s.V1Container(
        name=PRIMARY_CONTAINER,
        image=cfg.cluster.images.get(TUNE_COMPONENT, cfg.cluster.image),
        command=["python", "-m", TRIAL_MODULE],
        args=args,
        env=env,
        resources=requirements,
    )


def trial_job(cfg: KfopsConfig, task: TaskType, train_uri: str) -> dict[str, Any]:
    """The trial's batch Job as a plain dict (Katib's trialSpec is unstructured).

    backoffLimit 0: a failing trial fails once and counts toward maxFailedTrialCount.
    """
    pod = k8s.V1PodSpec(
        restart_policy="Never",
        containers=[_container(cfg, task, train_uri)],
        service_account_name=cfg.cluster.service_account,
        node_selector=cfg.cluster.node_selector or None,
    )
    job = k8s.V1Job(
        api_version="batch/v1",
        kind="Job",
        spec=k8s.V1JobSpec(
            backoff_limit=0,
            template=k8s.V1PodTemplateSpec(
                metadata=k8s.V1ObjectMeta(annotations={"sidecar.istio.io/inject": "false"}),
                spec=pod,
            ),
        ),
    )
    return k8s.ApiClient().sanitize_for_serialization(job)


def _parameters(cfg: KfopsConfig) -> list[katib.V1beta1ParameterSpec]:
    specs = []
    for param in require_tuning(cfg).parameters:
        space = param.feasible_space
        specs.append(
            katib.V1beta1ParameterSpec(
                name=param.name,
                parameter_type=param.type.value,
                feasible_space=katib.V1beta1FeasibleSpace(
                    min=space.min,
                    max=space.max,
                    step=space.step,
                    list=space.list,
                    distribution=DISTRIBUTIONS.get(space.distribution or ""),
                ),
            )
        )
    return specs


def build_experiment(
    cfg: KfopsConfig, task: TaskType, *, name: str, namespace: str, train_uri: str
) -> katib.V1beta1Experiment:
    """The Experiment for ``cfg.tuning``; trials read the training split at ``train_uri``."""
    tuning = require_tuning(cfg)
    metric = objective_metric(cfg, task)
    settings = [
        katib.V1beta1AlgorithmSetting(name=k, value=v) for k, v in tuning.algorithm.settings.items()
    ]
    early = None
    if tuning.early_stopping:
        rule = tuning.early_stopping
        early = katib.V1beta1EarlyStoppingSpec(
            algorithm_name=rule.name,
            algorithm_settings=[
                katib.V1beta1EarlyStoppingSetting(
                    name="min_trials_required", value=str(rule.min_trials_required)
                ),
                katib.V1beta1EarlyStoppingSetting(name="start_step", value=str(rule.start_step)),
            ],
        )
    template = katib.V1beta1TrialTemplate(
        primary_container_name=PRIMARY_CONTAINER,
        success_condition=JOB_SUCCESS,
        failure_condition=JOB_FAILURE,
        retain=False,
        trial_parameters=[
            katib.V1beta1TrialParameterSpec(
                name=p.name, reference=p.name, description=f"{p.type.value} {p.name}"
            )
            for p in tuning.parameters
        ],
        trial_spec=trial_job(cfg, task, train_uri),
    )
    spec = katib.V1beta1ExperimentSpec(
        objective=katib.V1beta1ObjectiveSpec(
            type=objective_direction(tuning, metric).value,
            goal=tuning.objective.goal,
            objective_metric_name=metric,
            metric_strategies=[katib.V1beta1MetricStrategy(name=metric, value="latest")],
        ),
        algorithm=katib.V1beta1AlgorithmSpec(
            algorithm_name=tuning.algorithm.name.value, algorithm_settings=settings or None
        ),
        early_stopping=early,
        parallel_trial_count=tuning.parallel_trial_count,
        max_trial_count=tuning.max_trial_count,
        max_failed_trial_count=tuning.max_failed_trial_count,
        parameters=_parameters(cfg),
        metrics_collector_spec=katib.V1beta1MetricsCollectorSpec(
            collector=katib.V1beta1CollectorSpec(kind="StdOut")
        ),
        trial_template=template,
    )
    labels = {"app.kubernetes.io/name": "kfops-tuning", "app.kubernetes.io/instance": cfg.project}
    return katib.V1beta1Experiment(
        api_version=KATIB_API_VERSION,
        kind=KATIB_KIND,
        metadata=k8s.V1ObjectMeta(name=name, namespace=namespace, labels=labels),
        spec=spec,
    )


def experiment_to_dict(experiment: katib.V1beta1Experiment) -> dict[str, Any]:
    """The JSON body the Kubernetes API takes (camelCase keys, None values left out)."""
    return KatibApiClient().sanitize_for_serialization(experiment)


def experiment_from_dict(body: dict[str, Any]) -> katib.V1beta1Experiment:
    """Read an Experiment (e.g. a GET response) back into the SDK's model classes."""
    response = SimpleNamespace(data=json.dumps(body))
    return KatibApiClient().deserialize(response, "V1beta1Experiment")
