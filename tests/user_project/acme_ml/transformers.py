"""A feature the model computes itself, so the server applies it to raw requests too."""

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin


class RatioFeature(BaseEstimator, TransformerMixin):
    """Add ``name`` = ``numerator`` / ``denominator`` (missing where the denominator is 0)."""

    def __init__(self, numerator: str = "", denominator: str = "", name: str = "ratio"):
        self.numerator = numerator
        self.denominator = denominator
        self.name = name

    def fit(self, frame: pd.DataFrame, target=None) -> "RatioFeature":
        for column in (self.numerator, self.denominator):
            if column not in frame.columns:
                raise KeyError(f"no column '{column}'")
        return self

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        out = frame.copy()
        denominator = pd.to_numeric(out[self.denominator], errors="coerce").replace(0, np.nan)
        out[self.name] = pd.to_numeric(out[self.numerator], errors="coerce") / denominator
        return out
