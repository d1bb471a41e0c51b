"""drop-outliers: runs after features; the training split loses implausible rows."""

import pandas as pd


def drop_outliers(frame: pd.DataFrame, split: str, column: str, upper: float) -> pd.DataFrame:
    """Leave training rows with ``column`` above ``upper`` out; the test split stays whole."""
    if split != "train":
        return frame
    return frame[frame[column] <= upper].reset_index(drop=True)
