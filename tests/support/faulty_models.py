"""A scikit-learn classifier wrapper that fails or is slow on purpose, for rollout tests.

The fault lives in the model, so the server in front of it is the real kfops server: an
"erroring" candidate raises inside ``predict_proba`` (the server answers 500 and keeps
serving), a "slow" one sleeps before answering. The class is importable
(``tests.support.faulty_models``), so the pickled model loads in a ``kfops serve`` process
started from the repository root.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np


class InjectedFault(RuntimeError):
    """Raised by an erroring model; not a ValueError, which the server would call a 422."""


class FaultyClassifier:
    """Delegates to a fitted classifier, after sleeping ``delay_s`` or failing.

    The fault sits in ``predict_proba`` only: the server calls it once per batch for a
    classifier, then ``predict``, which must not sleep again (a 150 ms model would take
    300 ms) and is never reached when ``predict_proba`` raised.
    """

    def __init__(self, inner: Any, *, fail: bool = False, delay_s: float = 0.0) -> None:
        self.inner = inner
        self.fail = fail
        self.delay_s = delay_s

    @property
    def classes_(self) -> np.ndarray:
        return self.inner.classes_

    @property
    def feature_names_in_(self) -> np.ndarray:
        return self.inner.feature_names_in_

    @property
    def n_features_in_(self) -> int:
        return self.inner.n_features_in_

    def predict_proba(self, frame: Any) -> np.ndarray:
        if self.delay_s > 0:
            time.sleep(self.delay_s)
        if self.fail:
            raise InjectedFault(f"injected fault: this model fails every call ({len(frame)} rows)")
        return self.inner.predict_proba(frame)

    def predict(self, frame: Any) -> np.ndarray:
        return self.inner.predict(frame)
