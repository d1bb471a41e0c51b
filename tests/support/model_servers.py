"""Real kfops model servers for the rollout end-to-end tests: healthy, erroring and slow.

Three MLflow model folders come from one small forest trained on the churn fixture
(:func:`build_model_folders`); the "erroring" and "slow" ones wrap it in
:class:`tests.support.faulty_models.FaultyClassifier`. :func:`start_model_server` runs
``kfops serve`` on one of them (or on a ``models:/NAME/VERSION`` URI) as a child process on
a free 127.0.0.1 port, with the ``variant`` label (stable, candidate) on its metrics, and
waits until it is ready. :func:`register_versions` registers folders as versions of a
model in a real MLflow store, through kfops' own registration (digest tag included).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pandas as pd

from tests.support.processes import stop_process
from tests.support.prometheus import free_port

REPO = Path(__file__).resolve().parents[2]
CHURN_CSV = REPO / "tests" / "fixtures" / "churn_small.csv"
MODEL_NAME = "churn-rollout"
TARGET = "churned"
NOT_FEATURES = [TARGET, "customer_id", "event_timestamp"]
HEALTHY, ERRORING, SLOW = "healthy", "erroring", "slow"
BEHAVIOURS = (HEALTHY, ERRORING, SLOW)
SLOW_DELAY_S = 0.15


@dataclass(frozen=True)
class ModelFolder:
    """An MLflow model folder and the digest ``kfops serve --sha256`` checks it against."""

    path: Path
    sha256: str
    behaviour: str


def churn_frame() -> pd.DataFrame:
    return pd.read_csv(CHURN_CSV)


def feature_rows(count: int = 4) -> list[dict[str, Any]]:
    """The model's columns of the first complete rows, as a client sends them."""
    complete = churn_frame().drop(columns=NOT_FEATURES).dropna()
    return json.loads(complete.head(count).to_json(orient="records"))


def train_small_model(frame: pd.DataFrame) -> Any:
    """kfops' own training pipeline, 10 trees: fitted in well under a second."""
    from kfops.config import DataConfig, ModelConfig, TaskType
    from kfops.training.estimator import train_model

    data = DataConfig(
        path="churn.csv",
        target=TARGET,
        entity_column="customer_id",
        timestamp_column="event_timestamp",
    )
    params = {"n_estimators": 10, "random_state": 0, "n_jobs": 1}
    return train_model(frame, data, ModelConfig(params=params), TaskType.CLASSIFICATION)


def save_model_folder(model: Any, folder: Path, frame: pd.DataFrame, behaviour: str) -> ModelFolder:
    """Save as ``train.py`` logs it (cloudpickle, signature, pinned requirements)."""
    import mlflow.sklearn
    from mlflow.models import infer_signature

    from kfops.registry.versions import artifact_sha256
    from kfops.steps.train import _pip_requirements

    sample = frame.drop(columns=NOT_FEATURES).head(5)
    with warnings.catch_warnings():  # MLflow's hints on integer columns and pickles
        warnings.simplefilter("ignore")
        mlflow.sklearn.save_model(
            model,
            str(folder),
            serialization_format="cloudpickle",
            signature=infer_signature(sample, model.predict(sample)),
            pip_requirements=_pip_requirements(),
        )
    return ModelFolder(folder, artifact_sha256(folder), behaviour)


def build_model_folders(root: Path, delay_s: float = SLOW_DELAY_S) -> dict[str, ModelFolder]:
    """healthy, erroring (every call raises) and slow (``delay_s`` per batch) model folders."""
    from tests.support.faulty_models import FaultyClassifier

    frame = churn_frame()
    healthy = train_small_model(frame)
    models = {
        HEALTHY: healthy,
        ERRORING: FaultyClassifier(healthy, fail=True),
        SLOW: FaultyClassifier(healthy, delay_s=delay_s),
    }
    return {
        behaviour: save_model_folder(model, root / behaviour, frame, behaviour)
        for behaviour, model in models.items()
    }


@dataclass
class ModelServerHandle:
    """A started server: ``url``, ``predict_url``, ``target`` (for Prometheus), ``stop()``.

    ``process`` is the ``kfops serve`` child; for an in-process server it is None and
    ``thread`` is the :class:`kfops.serving.server.ServerThread`.
    """

    url: str
    name: str
    variant: str
    process: subprocess.Popen[bytes] | None = None
    thread: Any = None
    log_path: Path | None = None
    startup_seconds: float = 0.0
    _started: float = field(default_factory=time.monotonic, repr=False)
    _stopped: bool = field(default=False, repr=False)

    @property
    def target(self) -> str:
        """``host:port``, as a Prometheus static target."""
        return self.url.removeprefix("http://")

    @property
    def predict_url(self) -> str:
        return f"{self.url}/v1/models/{self.name}:predict"

    def log(self) -> str:
        path = self.log_path
        return path.read_text(errors="replace") if path is not None and path.exists() else ""

    def wait_ready(self, timeout: float = 120.0) -> ModelServerHandle:
        """Poll ``/v2/health/ready`` every 50 ms; raises with the server's log if it never is."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                break
            try:
                if httpx.get(self.url + "/v2/health/ready", timeout=1.0).status_code == 200:
                    self.startup_seconds = time.monotonic() - self._started
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(
            f"model server {self.variant} at {self.url} did not become ready within "
            f"{timeout:g} s; its log:\n{self.log()[-3000:]}"
        )

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM (the server drains), then SIGKILL if it is still up after ``timeout``."""
        if self._stopped:
            return
        self._stopped = True
        if self.thread is not None:
            self.thread.stop(timeout)
        if self.process is not None:
            stop_process(self.process, timeout)

    def __enter__(self) -> ModelServerHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _settings(variant: str, serving: dict[str, Any] | None) -> dict[str, Any]:
    """Thread inference (no child process to start), a 2 s drain, then the overrides."""
    return {"variant": variant, "inference": "thread", "grace_period_seconds": 2, **(serving or {})}


def _source(model: str | Path | ModelFolder, sha256: str | None) -> tuple[str, str | None]:
    if isinstance(model, ModelFolder):
        return str(model.path), sha256 or model.sha256
    return str(model), sha256


def launch_model_server(
    model: str | Path | ModelFolder,
    variant: str,
    port: int = 0,
    *,
    name: str = MODEL_NAME,
    sha256: str | None = None,
    tracking_uri: str | None = None,
    log_dir: Path | None = None,
    serving: dict[str, Any] | None = None,
) -> ModelServerHandle:
    """Start ``kfops serve`` without waiting (start several, then ``wait_ready`` each).

    The serving section travels in ``KFOPS_SERVING`` (as in an InferenceService), so no
    kfops.yaml is needed. A folder is checked against ``sha256`` (a ModelFolder's own
    digest by default); ``models:/NAME/VERSION`` against the version's digest tag in
    ``tracking_uri``. ``port=0`` picks a free port.
    """
    source, digest = _source(model, sha256)
    port = port or free_port()
    env = {
        **os.environ,
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "KFOPS_SERVING": json.dumps(_settings(variant, serving)),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }
    if tracking_uri:
        env["MLFLOW_TRACKING_URI"] = tracking_uri
    command = [
        str(Path(sys.executable).parent / "kfops"), "serve", "--model", source, "--name", name,
        "--port", str(port),
    ]  # fmt: skip
    if digest:
        command += ["--sha256", digest]
    log_dir = log_dir or Path(tempfile.gettempdir())
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"kfops-serve-{variant}-{port}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )  # fmt: skip
    return ModelServerHandle(
        f"http://127.0.0.1:{port}", name, variant, process=process, log_path=log_path
    )


def serve_in_process(
    model: str | Path | ModelFolder,
    variant: str,
    port: int = 0,
    *,
    name: str = MODEL_NAME,
    sha256: str | None = None,
    tracking_uri: str | None = None,
    serving: dict[str, Any] | None = None,
    timeout: float = 60.0,
) -> ModelServerHandle:
    """The same server as ``kfops serve`` (load, verify, build, KfopsModelServer) in a thread.

    No interpreter to start and no imports to repeat: ready in well under a second once
    kfops.serving is imported, against tens of seconds for a ``kfops serve`` process on a
    busy machine. Its series share this process' default Prometheus registry with the
    other in-process servers (kserve's own histograms), but ``kfops_serving_*`` are its own.
    """
    from kfops.config import ServingConfig
    from kfops.serving.loader import load_model
    from kfops.serving.model import build_model
    from kfops.serving.server import KfopsModelServer, ServerThread

    started = time.monotonic()
    source, digest = _source(model, sha256)
    settings = ServingConfig.model_validate(_settings(variant, serving))
    loaded = load_model(
        source, expected_sha256=digest, tracking_uri=tracking_uri, registry_uri=tracking_uri
    )
    served = build_model(loaded, settings, name=name)
    server = KfopsModelServer(
        port=port,
        grace_period=settings.grace_period_seconds,
        max_body_bytes=settings.max_body_bytes,
    )
    thread = ServerThread(server, served).start(timeout)
    handle = ModelServerHandle(thread.url, name, variant, thread=thread)
    handle.startup_seconds = time.monotonic() - started
    return handle


def start_model_server(
    model: str | Path | ModelFolder,
    variant: str,
    port: int = 0,
    *,
    in_process: bool = False,
    timeout: float = 120.0,
    **options: Any,
) -> ModelServerHandle:
    """A ready model server: ``kfops serve`` (default), or the same server in a thread.

    ``options``: ``name``, ``sha256``, ``tracking_uri``, ``serving`` (and ``log_dir`` for a
    process). A process whose free port was taken meanwhile is started again (3 tries).
    """
    if in_process:
        return serve_in_process(model, variant, port, timeout=timeout, **options)
    for _attempt in range(3):
        handle = launch_model_server(model, variant, port, **options)
        try:
            return handle.wait_ready(timeout)
        except RuntimeError:
            if port or "address already in use" not in handle.log().lower():
                raise
    raise RuntimeError(f"kfops serve {model}: no free port in 3 tries")


def start_model_servers(
    servers: list[tuple[str | Path | ModelFolder, str]], timeout: float = 180.0, **options: Any
) -> list[ModelServerHandle]:
    """Several ``kfops serve`` processes started at once, then waited for, all ready.

    Their imports overlap only on spare cores: on 2 busy cores three processes took 110 s
    together against 22-30 s each one after another, so prefer ``in_process`` servers
    where a process is not the point of the test.

    ``servers``: ``(model, variant)`` pairs; ``options`` as for :func:`launch_model_server`.
    """
    handles = [launch_model_server(model, variant, **options) for model, variant in servers]
    try:
        for handle in handles:
            handle.wait_ready(timeout)
    except BaseException:
        for handle in handles:
            handle.stop()
        raise
    return handles


def register_versions(
    tracking_uri: str,
    name: str,
    model_dirs: list[Path | ModelFolder],
    *,
    champion: int | None = 0,
    artifact_root: Path | None = None,
) -> list[str]:
    """Register each folder as a new version of ``name``; the versions, in order.

    Each folder's files are logged as a run's ``model`` artifacts and registered with
    :func:`kfops.registry.versions.register_challenger` (which records the digest that
    ``kfops serve`` checks). ``champion`` is the index of the version the ``champion``
    alias then points at (None: leave the aliases as registration left them).
    """
    import mlflow

    from kfops.registry.tracking import use_tracking
    from kfops.registry.versions import promote, register_challenger

    if artifact_root is None and tracking_uri.startswith("sqlite:///"):
        artifact_root = Path(tracking_uri.removeprefix("sqlite:///")).parent / "artifacts"
    experiment = use_tracking(
        tracking_uri, "rollout-tests", artifact_root.as_uri() if artifact_root else None
    )
    versions = []
    for item in model_dirs:
        folder = item.path if isinstance(item, ModelFolder) else Path(item)
        with mlflow.start_run(experiment_id=experiment, run_name=folder.name) as run:
            mlflow.log_artifacts(str(folder), "model")
        version, _ = register_challenger(
            name, f"runs:/{run.info.run_id}/model", run.info.run_id, "roc_auc", 0.8, 0.0
        )
        versions.append(version)
    if champion is not None and versions:
        promote(name, versions[champion])
    return versions
