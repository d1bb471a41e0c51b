"""prediction-mean: runs after evaluate, before the gate; its metric joins the run."""

import pandas as pd


def prediction_mean(model, test: pd.DataFrame, target: str) -> dict[str, float]:
    """The mean prediction on the test split (the positive rate for a classifier)."""
    predictions = pd.to_numeric(pd.Series(model.predict(test.drop(columns=[target]))))
    return {"prediction_mean": float(predictions.mean())}
