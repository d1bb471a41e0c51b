"""How the server calls a fitted scikit-learn model: labels, and probabilities for classifiers.

For the estimators whose ``predict`` is by definition the most probable class (trees,
forests, boosting, logistic regression), labels are read off ``predict_proba`` instead of
calling the model twice: a 100-tree forest pays its per-tree cost once, not twice.
Forests are evaluated tree by tree (:mod:`kfops.serving.forest`), with the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from kfops.serving.forest import forest_call

_ARGMAX_CLASSIFIERS = (
    "sklearn.ensemble._forest.RandomForestClassifier",
    "sklearn.ensemble._forest.ExtraTreesClassifier",
    "sklearn.ensemble._gb.GradientBoostingClassifier",
    "sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingClassifier",
    "sklearn.tree._classes.DecisionTreeClassifier",
    "sklearn.tree._classes.ExtraTreeClassifier",
    "sklearn.linear_model._logistic.LogisticRegression",
)
"""``predict`` of these returns ``classes_[argmax(predict_proba)]`` (scikit-learn's own code)."""


@dataclass(frozen=True)
class Output:
    """A batch's result: one label per row; for classifiers, one probability per class."""

    labels: np.ndarray
    probabilities: np.ndarray | None = None


def _final_step(model: Any) -> Any:
    steps = getattr(model, "steps", None)
    return steps[-1][1] if steps else model


def _qualname(obj: Any) -> str:
    return f"{type(obj).__module__}.{type(obj).__qualname__}"


class Predictor:
    """Wraps the estimator (often a Pipeline) with the call pattern chosen once, at load."""

    def __init__(self, model: Any) -> None:
        self.model = model
        classes = getattr(model, "classes_", None)
        self.classes: list[Any] | None = (
            classes.tolist() if classes is not None and hasattr(model, "predict_proba") else None
        )
        self._classes = np.asarray(classes) if self.classes is not None else None
        self._argmax = self.classes is not None and _qualname(_final_step(model)) in set(
            _ARGMAX_CLASSIFIERS
        )
        self._forest = forest_call(model)

    @property
    def is_classifier(self) -> bool:
        return self.classes is not None

    @property
    def feature_names(self) -> list[str] | None:
        names = getattr(self.model, "feature_names_in_", None)
        return [str(n) for n in names] if names is not None else None

    def predict_columns(self, columns: dict[str, np.ndarray]) -> Output:
        """The batch as column arrays: forests read them as they are, others as a frame."""
        if self._forest is not None and (self._classes is None or self._argmax):
            return self.predict(columns)
        return self.predict(pd.DataFrame(columns, copy=False))

    def predict(self, frame: pd.DataFrame | dict[str, np.ndarray]) -> Output:
        if self._classes is None:
            predict = self._forest or self.model.predict
            return Output(np.asarray(predict(frame)))
        predict_proba = self._forest or self.model.predict_proba
        probabilities = np.asarray(predict_proba(frame), dtype=np.float64)
        if self._argmax:
            labels = self._classes.take(np.argmax(probabilities, axis=1), axis=0)
        else:
            labels = np.asarray(self.model.predict(frame))
        return Output(labels, probabilities)
