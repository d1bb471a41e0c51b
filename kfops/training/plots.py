"""PNG charts of a model's quality, drawn off-screen.

Figures are built on matplotlib's object API with the Agg canvas, never through pyplot:
no global figure state, no display needed, safe in pipeline steps and threads.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

MAX_BARS = 20
MAX_ANNOTATED_CLASSES = 20


def _save(fig: Figure, path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    FigureCanvasAgg(fig).print_png(str(path))
    return str(path)


def confusion_matrix_png(matrix: Sequence[Sequence[int]], labels: list[str], path: Path) -> str:
    """Counts per (true, predicted) pair; the diagonal holds the correct predictions."""
    counts = np.asarray(matrix)
    size = min(4.0 + 0.4 * len(labels), 14.0)
    fig = Figure(figsize=(size, size * 0.85))
    ax = fig.subplots()
    image = ax.imshow(counts, cmap="Blues")
    fig.colorbar(image, ax=ax, label="rows")
    ticks = np.arange(len(labels))
    ax.set_xticks(ticks, labels, rotation=45 if len(labels) > 4 else 0, ha="right")
    ax.set_yticks(ticks, labels)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(f"Confusion matrix ({int(counts.sum())} test rows)")
    if len(labels) <= MAX_ANNOTATED_CLASSES:
        threshold = counts.max() / 2 if counts.size else 0
        for (row, col), value in np.ndenumerate(counts):
            color = "white" if value > threshold else "black"
            ax.text(col, row, str(value), ha="center", va="center", color=color)
    return _save(fig, path)


def roc_png(curves: list[tuple[str, np.ndarray, np.ndarray, float]], path: Path) -> str:
    """One ROC curve per (label, fpr, tpr, auc): the positive class, or each class vs the rest."""
    fig = Figure(figsize=(6, 5))
    ax = fig.subplots()
    for label, fpr, tpr, auc in curves:
        ax.plot(fpr, tpr, label=f"{label} (AUC {auc:.3f})")
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="chance (AUC 0.5)")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_title("ROC curve on the test split")
    ax.legend(loc="lower right", fontsize="small")
    return _save(fig, path)


def importance_png(importance: dict[str, tuple[float, float]], xlabel: str, path: Path) -> str:
    """Top features by mean permutation importance (loss of score), with one-std error bars."""
    ranked = sorted(importance.items(), key=lambda item: item[1][0], reverse=True)[:MAX_BARS]
    names = [name for name, _ in ranked][::-1]
    means = [mean for _, (mean, _) in ranked][::-1]
    stds = [std for _, (_, std) in ranked][::-1]
    fig = Figure(figsize=(7, 1.5 + 0.35 * len(names)))
    ax = fig.subplots()
    ax.barh(names, means, xerr=stds, color="tab:blue", ecolor="grey")
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("feature")
    ax.set_title("Permutation feature importance (test split)")
    return _save(fig, path)


def residuals_png(y_true: np.ndarray, y_pred: np.ndarray, target: str, path: Path) -> str:
    """Predicted against actual, and residuals against predicted: bias shows as a trend."""
    fig = Figure(figsize=(11, 4.5))
    left, right = fig.subplots(1, 2)
    low, high = float(min(y_true.min(), y_pred.min())), float(max(y_true.max(), y_pred.max()))
    left.scatter(y_true, y_pred, s=8, alpha=0.5)
    left.plot([low, high], [low, high], linestyle="--", color="grey", label="perfect prediction")
    left.set_xlabel(f"actual {target}")
    left.set_ylabel(f"predicted {target}")
    left.set_title("Predicted vs actual")
    left.legend(loc="upper left", fontsize="small")
    right.scatter(y_pred, y_true - y_pred, s=8, alpha=0.5)
    right.axhline(0, linestyle="--", color="grey")
    right.set_xlabel(f"predicted {target}")
    right.set_ylabel("residual (actual - predicted)")
    right.set_title("Residuals")
    return _save(fig, path)
