"""What each step returns: one frozen dataclass per step.

A component unpacks these into its KFP outputs and artifact metadata; ``to_dict()`` is the
struct a step hands on as a KFP ``dict`` output, unchanged from when steps returned dicts,
so compiled pipelines and the steps downstream read the same keys. Stage types are
imported for annotations only: the features step must not load pandas when it passes
splits through.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kfops.data.ingest import IngestSummary
    from kfops.registry.champion import GateDecision, PromotionDecision
    from kfops.validation.validate import ValidationReport

Scalar = str | int | float | bool


def _scalars(values: dict[str, Any]) -> dict[str, Scalar]:
    """The entries an artifact's metadata can hold as they are."""
    return {k: v for k, v in values.items() if isinstance(v, str | int | float | bool)}


@dataclass(frozen=True)
class IngestResult:
    """What ingest saw and wrote; ``to_dict()`` is the ``summary`` later steps receive."""

    summary: IngestSummary

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self.summary)
        out["task"] = str(self.summary.task)
        return out


@dataclass(frozen=True)
class FeaturesResult:
    """The point-in-time join, or ``skipped`` when the config has no ``features`` section."""

    skipped: bool
    seconds: float
    feature_service: str = ""
    features: tuple[str, ...] = ()
    store: str = ""
    train_rows: int = 0
    test_rows: int = 0
    cutoff: str = ""
    materialized_rows: int = 0
    materialize_seconds: float = 0.0
    materialize_rows_per_second: float | None = None

    def to_dict(self) -> dict[str, Any]:
        if self.skipped:
            return {"skipped": True, "seconds": self.seconds}
        out = asdict(self)
        out["features"] = list(self.features)
        return out

    def artifact_metadata(self) -> dict[str, Scalar]:
        return _scalars(self.to_dict())


@dataclass(frozen=True)
class ValidateResult:
    """The validation report, or none when ``validation.enabled`` is false."""

    report: ValidationReport | None

    @property
    def skipped(self) -> bool:
        return self.report is None

    @property
    def statistics_html(self) -> str:
        return self.report.statistics_html if self.report is not None else ""

    def to_dict(self) -> dict[str, Any]:
        return {"skipped": True} if self.report is None else self.report.to_dict()

    def artifact_metadata(self) -> dict[str, Scalar]:
        return _scalars(self.to_dict())


@dataclass(frozen=True)
class TuneResult:
    """The search's outcome; ``best_params`` is empty when there was nothing to tune."""

    best_params: dict[str, Any]
    objective: str
    direction: str
    best_value: float
    best_trial: str
    backend: str
    trials: int
    succeeded: int
    failed: int
    early_stopped: int
    stopped: str
    trials_path: str
    """The trial table (Markdown)."""
    trials_json: str
    mlflow_run_id: str
    """The tuning parent run; empty when nothing was tuned."""

    def artifact_metadata(self) -> dict[str, Scalar]:
        """What the trial table's artifact shows in the KFP UI."""
        return {
            "objective": self.objective,
            "best_value": self.best_value,
            "best_trial": self.best_trial,
            "backend": self.backend,
            "trials": self.trials,
        }


@dataclass(frozen=True)
class TrainResult:
    run_id: str
    model_uri: str


@dataclass(frozen=True)
class EvaluateResult:
    """Metrics and plots of the held-out split; lists as KFP's metrics artifacts take them."""

    metrics: dict[str, float]
    promotion_metric: str
    score: float
    plots: dict[str, str]
    confusion_matrix: list[list[int]] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    roc: list[tuple[float, float, float]] = field(default_factory=list)


@dataclass(frozen=True)
class RegisterResult:
    """The new challenger version and the gate's verdict on it."""

    version: str
    gate: PromotionDecision

    @property
    def decision(self) -> GateDecision:
        return self.gate.outcome


@dataclass(frozen=True)
class PromoteResult:
    version: str
    previous: str | None
    """The champion before, or None when there was none."""
    moved: bool = True
    """False when champion stayed for a rollout to decide (``registry.promotion: rollout``)."""


@dataclass(frozen=True)
class DeployResult:
    name: str
    namespace: str
    url: str
    version: str
