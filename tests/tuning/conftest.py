"""Fixtures for the tuning tests: a small slice of the churn example, config builders,
and a recording emulator of the Kubernetes API's Katib endpoints on 127.0.0.1.

The emulator serves what ``kfops.tuning.cluster`` calls:

    POST /apis/kubeflow.org/v1beta1/namespaces/{ns}/experiments
    GET  /apis/kubeflow.org/v1beta1/namespaces/{ns}/experiments/{name}
    GET  /apis/kubeflow.org/v1beta1/namespaces/{ns}/trials?labelSelector=...

Each GET of the Experiment returns the next status of a script (the last one repeats),
so a test can walk it from Created through Running to Succeeded.
"""

from __future__ import annotations

import copy
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from kfops.config import KfopsConfig, load_config
from tests.support.http_server import Request, json_server

REPO = Path(__file__).resolve().parents[2]
CHURN = REPO / "examples" / "churn" / "data" / "churn.csv"
SHARED_SCHEMAS = REPO.parent / "shared" / "schemas"
SLICE_ROWS = 1500

TUNING: dict[str, Any] = {
    "backend": "local",
    "objective": {"metric": "roc_auc"},
    "algorithm": {"name": "random", "settings": {"random_state": 7}},
    "parallel_trial_count": 2,
    "max_trial_count": 4,
    "max_failed_trial_count": 1,
    "cv_folds": 3,
    "parameters": [
        {"name": "max_depth", "type": "int", "feasible_space": {"min": 2, "max": 8}},
        {"name": "min_samples_leaf", "type": "int", "feasible_space": {"min": 1, "max": 20}},
        {
            "name": "max_features",
            "type": "categorical",
            "feasible_space": {"list": ["sqrt", "log2"]},
        },
    ],
}
"""A small search over a 20-tree RandomForest: a trial takes well under a second."""


def churn_raw(tuning: dict[str, Any] | None = None, **sections: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "project": "churn",
        "data": {
            "path": str(CHURN),
            "target": "churned",
            "task": "classification",
            "entity_column": "customer_id",
            "timestamp_column": "event_timestamp",
        },
        "model": {
            "estimator": "sklearn.ensemble.RandomForestClassifier",
            "params": {"n_estimators": 20, "random_state": 0, "n_jobs": 1},
        },
        "tuning": copy.deepcopy(TUNING if tuning is None else tuning),
    }
    raw.update(sections)
    return raw


def churn_config(tuning: dict[str, Any] | None = None, **sections: Any) -> KfopsConfig:
    return load_config(raw=churn_raw(tuning, **sections))


@pytest.fixture(scope="session")
def churn_train(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Parquet of the first 1500 rows of the churn example: the training split of the tests."""
    frame = pd.read_csv(CHURN, nrows=SLICE_ROWS)
    path = tmp_path_factory.mktemp("churn") / "train.parquet"
    frame.to_parquet(path, index=False)
    return str(path)


@pytest.fixture
def shared_schemas() -> Path:
    if not (SHARED_SCHEMAS / "validate.py").is_file():
        pytest.skip("../shared/schemas is not here; the CI schema check covers this")
    return SHARED_SCHEMAS


EXPERIMENTS = re.compile(
    r"^/apis/kubeflow\.org/v1beta1/namespaces/([^/]+)/experiments(?:/([^/]+))?$"
)
TRIALS = re.compile(r"^/apis/kubeflow\.org/v1beta1/namespaces/([^/]+)/trials$")


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    body: Any


@dataclass
class KatibApiEmulator:
    url: str = ""
    requests: list[Recorded] = field(default_factory=list)
    experiments: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    statuses: list[dict[str, Any]] = field(default_factory=lambda: [{}])
    trials: list[dict[str, Any]] = field(default_factory=list)
    failures: dict[tuple[str, str], tuple[int, str]] = field(default_factory=dict)
    gets: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def fail(self, method: str, kind: str, status: int, message: str) -> None:
        """Answer ``method`` on ``kind`` (experiments, experiment, trials) with an error."""
        self.failures[(method, kind)] = (status, message)

    def routes(self) -> list[tuple[str, str]]:
        return [(r.method, r.path) for r in self.requests]

    def handle(self, record: Recorded) -> tuple[int, dict[str, Any]]:
        with self._lock:
            self.requests.append(record)
            return self._dispatch(record)

    def _error(self, status: int, message: str) -> tuple[int, dict[str, Any]]:
        reason = {403: "Forbidden", 404: "NotFound", 409: "AlreadyExists"}.get(status, "Invalid")
        body = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": message}
        return status, {**body, "reason": reason, "code": status}

    def _dispatch(self, record: Recorded) -> tuple[int, dict[str, Any]]:
        experiments, trials = EXPERIMENTS.match(record.path), TRIALS.match(record.path)
        kind = (
            "trials"
            if trials
            else "experiment"
            if experiments and experiments[2]
            else "experiments"
        )
        if (record.method, kind) in self.failures:
            return self._error(*self.failures[(record.method, kind)])
        if experiments and record.method == "POST" and not experiments[2]:
            namespace, body = experiments[1], record.body or {}
            key = (namespace, body["metadata"]["name"])
            if key in self.experiments:
                return self._error(409, f'experiments.kubeflow.org "{key[1]}" already exists')
            stored = copy.deepcopy(body)
            stored["metadata"].update({"uid": "u-1", "creationTimestamp": "2026-01-01T00:00:00Z"})
            self.experiments[key] = stored
            return 201, stored
        if experiments and record.method == "GET" and experiments[2]:
            key = (experiments[1], experiments[2])
            if key not in self.experiments:
                return self._error(404, f'experiments.kubeflow.org "{key[1]}" not found')
            status = self.statuses[min(self.gets, len(self.statuses) - 1)]
            self.gets += 1
            return 200, {**self.experiments[key], "status": status}
        if trials and record.method == "GET":
            selector = record.query.get("labelSelector", [""])[0]
            label, _, value = selector.partition("=")
            items = [t for t in self.trials if t["metadata"]["labels"].get(label) == value]
            return 200, {"apiVersion": "kubeflow.org/v1beta1", "kind": "TrialList", "items": items}
        return self._error(404, f"no route {record.method} {record.path}")


@pytest.fixture
def katib_api() -> Iterator[KatibApiEmulator]:
    emulator = KatibApiEmulator()

    def respond(request: Request) -> tuple[int, Any]:
        return emulator.handle(
            Recorded(request.method, request.path, request.query, request.json())
        )

    with json_server(respond) as url:
        emulator.url = url
        yield emulator


@pytest.fixture
def custom_objects(katib_api: KatibApiEmulator):
    """A CustomObjectsApi whose host is the emulator."""
    from kubernetes import client

    configuration = client.Configuration()
    configuration.host = katib_api.url
    return client.CustomObjectsApi(client.ApiClient(configuration))
