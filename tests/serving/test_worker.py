"""The model in a child process (kfops.serving.worker)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kfops.serving.predictor import Predictor
from kfops.serving.signature import InputSchema
from kfops.serving.worker import InferencePool

pytestmark = pytest.mark.slow  # each child imports scikit-learn and pandas


def test_the_child_answers_like_the_server_process_and_reports_model_errors(
    loaded, feature_rows
) -> None:
    predictor = Predictor(loaded.estimator)
    schema = InputSchema.from_mlflow(loaded.signature_inputs, predictor.feature_names)
    arrays = schema.arrays([schema.check_rows(feature_rows)])
    pool = InferencePool(loaded.estimator, workers=2)
    try:
        here = predictor.predict(pd.DataFrame(arrays))
        there = pool.predict(arrays)
        assert (there.labels == here.labels).all()
        assert np.allclose(there.probabilities, here.probabilities)
        with pytest.raises(ValueError):
            pool.predict({name: values for name, values in arrays.items() if name != "age"})
        assert (pool.predict(arrays).labels == here.labels).all()  # the child survived
        assert len({p.pid for p in pool.processes}) == 2
    finally:
        pool.close()
